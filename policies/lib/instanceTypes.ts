// vCPU and memory of common EC2 instance types (nano..4xlarge), enough for control-plane sizing.
// Source: the EC2 instance type pages; burstable families listed explicitly, the fixed-ratio
// general purpose (4 GiB/vCPU), compute (2 GiB/vCPU) and memory (8 GiB/vCPU) families generated.

export interface InstanceSpec {
    vcpus: number;
    memoryGiB: number;
}

const table = new Map<string, InstanceSpec>();

const burstable: Record<string, [number, number]> = {
    nano: [2, 0.5],
    micro: [2, 1],
    small: [2, 2],
    medium: [2, 4],
    large: [2, 8],
    xlarge: [4, 16],
    "2xlarge": [8, 32],
};
for (const family of ["t3", "t3a", "t4g"]) {
    for (const [size, [vcpus, memoryGiB]] of Object.entries(burstable)) {
        table.set(`${family}.${size}`, { vcpus, memoryGiB });
    }
}
// t2 differs below large.
const t2: Record<string, [number, number]> = {
    nano: [1, 0.5],
    micro: [1, 1],
    small: [1, 2],
    medium: [2, 4],
    large: [2, 8],
    xlarge: [4, 16],
    "2xlarge": [8, 32],
};
for (const [size, [vcpus, memoryGiB]] of Object.entries(t2)) {
    table.set(`t2.${size}`, { vcpus, memoryGiB });
}

const sizes: Record<string, number> = { large: 2, xlarge: 4, "2xlarge": 8, "4xlarge": 16 };
const ratioFamilies: Record<number, string[]> = {
    4: ["m5", "m5a", "m5n", "m6i", "m6a", "m6in", "m7i", "m7i-flex", "m7a", "m6g", "m7g", "m8g"],
    2: ["c5", "c5a", "c5n", "c6i", "c6a", "c6in", "c7i", "c7a", "c6g", "c7g", "c8g"],
    8: ["r5", "r5a", "r5n", "r6i", "r6a", "r7i", "r7a", "r6g", "r7g", "r8g"],
};
for (const [ratio, families] of Object.entries(ratioFamilies)) {
    for (const family of families) {
        for (const [size, vcpus] of Object.entries(sizes)) {
            table.set(`${family}.${size}`, { vcpus, memoryGiB: vcpus * Number(ratio) });
        }
        // Graviton families also come in medium (1 vCPU).
        if (/g$/.test(family)) {
            table.set(`${family}.medium`, { vcpus: 1, memoryGiB: Number(ratio) });
        }
    }
}
// c5n memory differs from the 2 GiB/vCPU ratio.
table.set("c5n.large", { vcpus: 2, memoryGiB: 5.25 });
table.set("c5n.xlarge", { vcpus: 4, memoryGiB: 10.5 });
table.set("c5n.2xlarge", { vcpus: 8, memoryGiB: 21 });
table.set("c5n.4xlarge", { vcpus: 16, memoryGiB: 42 });

export const instanceTypes: ReadonlyMap<string, InstanceSpec> = table;

export function lookupInstanceType(type: string, extra: Record<string, InstanceSpec> = {}): InstanceSpec | undefined {
    return extra[type] ?? table.get(type);
}
