// IPv4 CIDR arithmetic for subnet planning and config validation. Pure functions, no I/O.
// Parsing is the policy pack's (one parser for config and pack alike): canonical text only.
import { formatCidr, formatIp, mustParseCidr, parseCidr, type Ipv4Cidr } from "../../policies/lib/cidr";

export { formatCidr, formatIp, mustParseCidr, parseCidr, type Ipv4Cidr };

function size(c: Ipv4Cidr): number {
    return 2 ** (32 - c.prefix);
}

export function overlaps(a: Ipv4Cidr, b: Ipv4Cidr): boolean {
    return a.base < b.base + size(b) && b.base < a.base + size(a);
}

/** Whether `inner` lies entirely inside `outer`. */
export function contains(outer: Ipv4Cidr, inner: Ipv4Cidr): boolean {
    return (
        inner.prefix >= outer.prefix && inner.base >= outer.base && inner.base + size(inner) <= outer.base + size(outer)
    );
}

/** The `index`-th block of `parent` with `newBits` more prefix bits (Terraform's cidrsubnet). */
export function subnet(parent: Ipv4Cidr, newBits: number, index: number): Ipv4Cidr {
    const prefix = parent.prefix + newBits;
    if (prefix > 32) throw new Error(`cannot split /${parent.prefix} by ${newBits} more bits`);
    if (index < 0 || index >= 2 ** newBits) throw new Error(`subnet index ${index} is outside 0..${2 ** newBits - 1}`);
    return { base: (parent.base + index * 2 ** (32 - prefix)) >>> 0, prefix };
}

/** The n-th address of a block (0 is the network address). */
export function nthAddress(c: Ipv4Cidr, n: number): string {
    if (n < 0 || n >= size(c)) throw new Error(`address ${n} is outside ${formatCidr(c)}`);
    return formatIp((c.base + n) >>> 0);
}

/** Whether a dotted-quad address lies inside the block. */
export function containsIp(c: Ipv4Cidr, ip: string): boolean {
    const parsed = parseCidr(`${ip}/32`);
    return typeof parsed !== "string" && contains(c, parsed);
}
