// The Availability Zones of every commercial AWS Region, by zone name, as config validation
// checks them (components/config.ts).
//
// Source: AWS's public documentation of Regions and Availability Zones,
//   https://docs.aws.amazon.com/global-infrastructure/latest/regions/aws-availability-zones.html
//   https://docs.aws.amazon.com/global-infrastructure/latest/regions/aws-regions.html
// transcribed on 2026-11-30. It is a SNAPSHOT: AWS opens Regions and adds zones, and in its
// oldest Regions maps zone letters to physical zones per account (for those, every letter any
// account may see is listed). `aws ec2 describe-availability-zones --region R` is the truth for
// one account; a zone or Region this table does not know yet is accepted with the stack setting
// `allowUnknownZones: true`. GovCloud, China and the ISO partitions are not listed (same switch).

/** Zone letters per Region code: zone names are the Region code followed by one letter. */
const ZONE_LETTERS: Readonly<Record<string, string>> = {
    "us-east-1": "abcdef",
    "us-east-2": "abc",
    "us-west-1": "abc",
    "us-west-2": "abcd",
    "af-south-1": "abc",
    "ap-east-1": "abc",
    "ap-east-2": "abc",
    "ap-south-1": "abc",
    "ap-south-2": "abc",
    "ap-southeast-1": "abc",
    "ap-southeast-2": "abc",
    "ap-southeast-3": "abc",
    "ap-southeast-4": "abc",
    "ap-southeast-5": "abc",
    "ap-southeast-6": "abc",
    "ap-southeast-7": "abc",
    "ap-northeast-1": "abcd",
    "ap-northeast-2": "abcd",
    "ap-northeast-3": "abc",
    "ca-central-1": "abcd",
    "ca-west-1": "abc",
    "eu-central-1": "abc",
    "eu-central-2": "abc",
    "eu-west-1": "abc",
    "eu-west-2": "abc",
    "eu-west-3": "abc",
    "eu-south-1": "abc",
    "eu-south-2": "abc",
    "eu-north-1": "abc",
    "il-central-1": "abc",
    "me-south-1": "abc",
    "me-central-1": "abc",
    "mx-central-1": "abc",
    "sa-east-1": "abc",
};

/** Every Region the table knows. */
export const KNOWN_REGIONS: readonly string[] = Object.keys(ZONE_LETTERS).sort();

/** The zone names of a Region, or undefined when the table does not know the Region. */
export function zonesOf(region: string): readonly string[] | undefined {
    if (!Object.hasOwn(ZONE_LETTERS, region)) return undefined;
    return [...ZONE_LETTERS[region]].map((letter) => `${region}${letter}`);
}
