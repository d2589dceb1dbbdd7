// Layout arithmetic: which zone each node lands in and how the VPC block is carved. Pure functions.
import { formatCidr, mustParseCidr, subnet } from "./cidr";

/** Node i goes to zone i mod |zones|, so any count spreads as evenly as the zones allow. */
export function zoneOf(index: number, zones: readonly string[]): string {
    if (zones.length === 0) throw new Error("no availability zones to place nodes in");
    return zones[index % zones.length];
}

/** The distinct zones that `count` round-robin nodes occupy, in zone order. */
export function occupiedZones(count: number, zones: readonly string[]): string[] {
    return zones.slice(0, Math.min(count, zones.length));
}

/** The CIDR blocks of one zone's subnets. */
export interface ZoneBlocks {
    readonly zone: string;
    /** Nodes live here: a /+4 block of the VPC (a /20 of a /16). */
    readonly privateCidr: string;
    /** Load balancer, NAT gateway and bastion: a /+8 block near the VPC's end (a /24 of a /16). */
    readonly publicCidr: string;
}

/** Private blocks count up from the VPC's start and public ones from block 240 of 256, so they never meet (up to 15 zones). */
export function planSubnets(vpcCidr: string, zones: readonly string[]): ZoneBlocks[] {
    const vpc = mustParseCidr(vpcCidr);
    return zones.map((zone, i) => ({
        zone,
        privateCidr: formatCidr(subnet(vpc, 4, i)),
        publicCidr: formatCidr(subnet(vpc, 8, 240 + i)),
    }));
}
