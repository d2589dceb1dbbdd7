// One CIDR parser for the stack's config validation and for the policy pack, on ipaddr.js.
//
// Config takes canonical IPv4 text only (no leading zeros, prefix 0-32, host bits zero), so that
// what a user wrote is exactly what AWS and the pack see. The pack reads whatever a rule holds,
// leniently, and judges it by what it covers: how many public addresses (outside every
// special-use range: private, loopback, link-local, CGNAT, multicast, reserved, ...), so that no
// spelling ("0.0.0.0/00", two /1 halves) talks its way around "not open to the world".
import * as ipaddr from "ipaddr.js";

/** A parsed IPv4 block: the network address as an unsigned 32-bit number and its prefix. */
export interface Ipv4Cidr {
    readonly base: number;
    readonly prefix: number;
}

const PREFIX_RE = /^(0|[1-9]\d?)$/;

function toNumber(addr: ipaddr.IPv4): number {
    return addr.toByteArray().reduce((n, octet) => n * 256 + octet, 0);
}

export function formatIp(n: number): string {
    return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join(".");
}

/** Parses canonical "a.b.c.d/p"; returns what is wrong instead of throwing, so validation can collect it. */
export function parseCidr(text: string): Ipv4Cidr | string {
    if (typeof text !== "string") return "not a string";
    const parts = text.split("/");
    if (parts.length !== 2) return "not an IPv4 CIDR of the form a.b.c.d/p";
    const [address, prefixText] = parts;
    if (!ipaddr.IPv4.isValidFourPartDecimal(address)) {
        const octets = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(address)?.slice(1);
        if (octets?.some((o) => Number(o) > 255)) return "an octet is above 255";
        if (octets?.some((o) => /^0\d/.test(o)))
            return "an octet has a leading zero (write 10, not 010: some tools read 010 as octal 8)";
        return "not an IPv4 CIDR of the form a.b.c.d/p";
    }
    if (!/^\d+$/.test(prefixText)) return "not an IPv4 CIDR of the form a.b.c.d/p";
    if (Number(prefixText) > 32) return "the prefix is above /32";
    if (!PREFIX_RE.test(prefixText)) return `the prefix has a leading zero (write /${Number(prefixText)})`;
    const prefix = Number(prefixText);
    const base = toNumber(ipaddr.IPv4.networkAddressFromCIDR(text));
    if (base !== toNumber(ipaddr.IPv4.parse(address)))
        return `host bits are set (the network address is ${formatIp(base)}/${prefix})`;
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

/**
 * What a security rule's CIDR text covers, read as AWS would accept it (leading zeros, "/00" and
 * host bits included): an IPv4 block, an IPv6 prefix, or undefined when it is no CIDR at all.
 */
export function readRuleCidr(text: string): { v4: Ipv4Cidr } | { v6: Ipv6Prefix } | undefined {
    const trimmed = text.trim();
    const slash = trimmed.lastIndexOf("/");
    if (slash < 0) return undefined;
    const prefix = Number(trimmed.slice(slash + 1));
    const address = trimmed.slice(0, slash);
    if (!/^\d+$/.test(trimmed.slice(slash + 1))) return undefined;
    if (ipaddr.IPv4.isValid(address) && prefix <= 32) {
        // Octets are read as decimal even with leading zeros (ipaddr.js would read them as octal).
        const octets = address.split(".").map((o) => parseInt(o, 10));
        if (octets.length !== 4 || octets.some((o) => !(o >= 0 && o <= 255))) return undefined;
        const n = octets.reduce((acc, o) => acc * 256 + o, 0);
        const size = 2 ** (32 - prefix);
        return { v4: { base: n - (n % size), prefix } };
    }
    if (ipaddr.IPv6.isValid(address) && prefix <= 128) {
        const net = ipaddr.IPv6.networkAddressFromCIDR(`${address}/${prefix}`);
        const base = net.toByteArray().reduce((n, octet) => n * 256n + BigInt(octet), 0n);
        return { v6: { base, prefix } };
    }
    return undefined;
}

/** A parsed IPv6 prefix: the network address as a 128-bit number and its length. */
export interface Ipv6Prefix {
    readonly base: bigint;
    readonly prefix: number;
}

/** 2000::/3, the global-unicast block: every public IPv6 address lies in it. */
const GLOBAL_UNICAST_V6: [bigint, bigint] = [0x2000n << 112n, 0x4000n << 112n];

/**
 * How many global-unicast IPv6 addresses the union of `prefixes` covers (overlaps counted once):
 * the IPv6 counterpart of publicAddressCount.
 */
export function globalUnicastV6Count(prefixes: readonly Ipv6Prefix[]): bigint {
    const [gs, ge] = GLOBAL_UNICAST_V6;
    const clipped: [bigint, bigint][] = prefixes
        .map((p): [bigint, bigint] => [p.base, p.base + (1n << BigInt(128 - p.prefix))])
        .map(([s, e]): [bigint, bigint] => [s > gs ? s : gs, e < ge ? e : ge])
        .filter(([s, e]) => s < e)
        .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    let total = 0n;
    let cur: [bigint, bigint] | undefined;
    for (const [s, e] of clipped) {
        if (cur && s <= cur[1]) {
            if (e > cur[1]) cur[1] = e;
        } else {
            if (cur) total += cur[1] - cur[0];
            cur = [s, e];
        }
    }
    return cur ? total + cur[1] - cur[0] : total;
}

type Interval = [number, number]; // [start, end)

function interval(c: Ipv4Cidr): Interval {
    return [c.base, c.base + 2 ** (32 - c.prefix)];
}

function merge(intervals: Interval[]): Interval[] {
    const sorted = [...intervals].sort((a, b) => a[0] - b[0]);
    const out: Interval[] = [];
    for (const [s, e] of sorted) {
        const last = out[out.length - 1];
        if (last && s <= last[1]) last[1] = Math.max(last[1], e);
        else out.push([s, e]);
    }
    return out;
}

/** Every IPv4 block ipaddr.js classes as special-use (anything but "unicast"), merged. */
const SPECIAL_USE: Interval[] = merge(
    // The table behind IPv4#range(); its typings leave it out.
    Object.values(
        (
            ipaddr.IPv4.prototype as unknown as {
                SpecialRanges: Record<string, [ipaddr.IPv4, number] | [ipaddr.IPv4, number][]>;
            }
        ).SpecialRanges,
    )
        .flatMap((r) => (Array.isArray(r[0]) ? (r as [ipaddr.IPv4, number][]) : [r as [ipaddr.IPv4, number]]))
        .map(([addr, prefix]) => interval({ base: toNumber(addr), prefix })),
);

/** How many public IPv4 addresses the union of `blocks` covers. */
export function publicAddressCount(blocks: readonly Ipv4Cidr[]): number {
    let total = 0;
    for (const [s, e] of merge(blocks.map(interval))) {
        total += e - s;
        for (const [ss, se] of SPECIAL_USE) total -= Math.max(0, Math.min(e, se) - Math.max(s, ss));
    }
    return total;
}
