// IPv4 CIDR arithmetic for subnet planning and config validation. Pure functions, no I/O.

/** A parsed IPv4 CIDR block: the network address as an unsigned 32-bit number and its prefix. */
export interface Ipv4Cidr {
    readonly base: number;
    readonly prefix: number;
}

const CIDR_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;

/** Parses "a.b.c.d/p"; returns an error string instead of throwing so validation can collect them. */
export function parseCidr(text: string): Ipv4Cidr | string {
    const m = CIDR_RE.exec(text);
    if (!m) return "not an IPv4 CIDR of the form a.b.c.d/p";
    const octets = m.slice(1, 5).map(Number);
    const prefix = Number(m[5]);
    if (octets.some((o) => o > 255)) return "an octet is above 255";
    if (prefix > 32) return "the prefix is above /32";
    const address = ((octets[0] << 24) | (octets[1] << 16) | (octets[2] << 8) | octets[3]) >>> 0;
    const base = (address & mask(prefix)) >>> 0;
    if (base !== address) return `host bits are set (the network address is ${formatIp(base)}/${prefix})`;
    return { base, prefix };
}

/** Like parseCidr, but throws: for values already validated. */
export function mustParseCidr(text: string): Ipv4Cidr {
    const parsed = parseCidr(text);
    if (typeof parsed === "string") throw new Error(`invalid CIDR '${text}': ${parsed}`);
    return parsed;
}

export function formatCidr(c: Ipv4Cidr): string {
    return `${formatIp(c.base)}/${c.prefix}`;
}

export function formatIp(n: number): string {
    return [24, 16, 8, 0].map((shift) => (n >>> shift) & 255).join(".");
}

function mask(prefix: number): number {
    return prefix === 0 ? 0 : (~0 << (32 - prefix)) >>> 0;
}

function size(c: Ipv4Cidr): number {
    return 2 ** (32 - c.prefix);
}

export function overlaps(a: Ipv4Cidr, b: Ipv4Cidr): boolean {
    return a.base < b.base + size(b) && b.base < a.base + size(a);
}

/** Whether `inner` lies entirely inside `outer`. */
export function contains(outer: Ipv4Cidr, inner: Ipv4Cidr): boolean {
    return inner.prefix >= outer.prefix && inner.base >= outer.base && inner.base + size(inner) <= outer.base + size(outer);
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
