// The offline plan's command line: --json (the documented document, exit codes, the pack's verdict
// on layouts) and --diagram (a well-formed SVG drawn from the plan's own recorded resources, with a
// node for every control plane in its zone, the NLB, every zone, the bastion, NAT gateways and
// workers; docs/architecture.svg is what `npm run diagram` draws). Both read the same
// configurations, so each configuration's plan runs once (tests/planCli.ts) for both.
import { strict as assert } from "node:assert";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DOMParser, type Document, type Element } from "@xmldom/xmldom";
import { renderDiagram, type Architecture } from "../tools/plan/diagram";
import {
    ROOT,
    planConfiguration,
    planInProcess,
    planProcess,
    type ConfigurationRun,
    type ProcessResult,
} from "./planCli";
import { TYPES } from "../policies/lib/contract";

type PlanResult = ConfigurationRun;

const mandatory = (r: PlanResult) =>
    [...new Set(r.json.violations.filter((v) => v.enforcementLevel === "mandatory").map((v) => v.policy))].sort();

describe("offline plan command line (--json)", function () {
    this.timeout(120_000);

    // Each case: stack, overrides, expected exit code, mandatory policies expected to fail (exactly).
    const cases: [string, string, string[], number, string[]][] = [
        ["dev as committed passes", "dev", [], 0, []],
        ["prod as committed passes", "prod", [], 0, []],
        [
            "2 control planes fail odd-count (and cannot survive a zone loss)",
            "dev",
            ["controlPlaneCount=2"],
            1,
            ["control-plane-az-quorum", "control-plane-odd-count"],
        ],
        [
            "4 control planes fail odd-count (2,1,1 also loses quorum with zone a)",
            "dev",
            ["controlPlaneCount=4"],
            1,
            ["control-plane-az-quorum", "control-plane-odd-count"],
        ],
        ["1 control plane fails in prod", "prod", ["controlPlaneCount=1"], 1, ["control-plane-odd-count"]],
        [
            "3 in one zone fail multi-az (and quorum)",
            "dev",
            ['availabilityZones=["us-west-2a"]'],
            1,
            ["control-plane-az-quorum", "control-plane-multi-az"],
        ],
        [
            "3 in two zones fail az-quorum",
            "dev",
            ['availabilityZones=["us-west-2a","us-west-2b"]'],
            1,
            ["control-plane-az-quorum", "control-plane-multi-az"],
        ],
        [
            "5 in two zones fail az-quorum",
            "prod",
            ['availabilityZones=["us-east-1a","us-east-1b"]'],
            1,
            ["control-plane-az-quorum", "control-plane-multi-az"],
        ],
        ["5 over three zones pass", "dev", ["controlPlaneCount=5"], 0, []],
        ["7 over three zones pass", "prod", ["controlPlaneCount=7"], 0, []],
        ["SSH from the world fails", "dev", ['sshAllowedCidrs=["0.0.0.0/0"]'], 1, ["no-world-open-sensitive-ports"]],
    ];

    const results = new Map<string, Promise<PlanResult>>();
    before(() => {
        // All at once: planCli runs two at a time (the machines have two cores).
        for (const [title, stack, config] of cases) results.set(title, planConfiguration(stack, config));
    });

    for (const [title, stack, , code, policies] of cases) {
        it(title, async () => {
            const r = await results.get(title)!;
            assert.deepEqual(
                mandatory(r),
                [...policies].sort(),
                JSON.stringify(
                    r.json.violations.filter((v) => v.enforcementLevel === "mandatory"),
                    null,
                    1,
                ),
            );
            assert.equal(r.code, code);
            assert.equal(r.json.stack, stack);
            assert.ok(r.json.resources.length > 50);
        });
    }

    it("prints the documented document: resources with urn, type, name, parent, dependencies, inputs; secrets redacted", async () => {
        const r = await results.get("dev as committed passes")!;
        for (const res of r.json.resources)
            assert.deepEqual(Object.keys(res), ["urn", "type", "name", "parent", "dependencies", "inputs"]);
        const text = JSON.stringify(r.json);
        assert.ok(!/BEGIN [A-Z ]*PRIVATE KEY/.test(text), "no private key in the plan");
        const cp = r.json.resources.find((x) => x.name === "k8s-dev-cp-0")!;
        assert.equal(cp.inputs.availabilityZone, "us-west-2a");
        assert.equal(cp.inputs.subnetId, "[unknown]", "computed values are unknown in preview");
    });

    it("a bad config value exits 2 and names the key", async () => {
        const r = await planConfiguration("dev", ["controlPlaneCount=eight"]);
        assert.equal(r.code, 2);
        assert.match(r.stderr, /controlPlaneCount: "eight" is not allowed; expected an integer/);
        assert.equal(r.json.resources.length, 0);
    });
});

const SVG_NS = "http://www.w3.org/2000/svg";

/** Strict XML parse: any warning or error fails. */
function parseSvg(text: string): Document {
    const doc = new DOMParser({
        onError: (level, message) => {
            throw new Error(`${level}: ${message}`);
        },
    }).parseFromString(text, "image/svg+xml");
    assert.equal(doc.documentElement?.nodeName, "svg");
    assert.equal(doc.documentElement?.getAttribute("xmlns"), SVG_NS);
    return doc;
}

function elements(doc: Document, tag: string): Element[] {
    return Array.from(doc.getElementsByTagName(tag) as unknown as ArrayLike<Element>);
}

/** `<g class="node control-plane" data-name=.. data-zone=..>` and friends. */
function nodes(doc: Document, kind: string): { name: string; zone: string | null; text: string }[] {
    return elements(doc, "g")
        .filter((g) => (g.getAttribute("class") ?? "").split(/\s+/).includes(kind))
        .map((g) => ({
            name: g.getAttribute("data-name") ?? "",
            zone: g.getAttribute("data-zone"),
            text: g.textContent ?? "",
        }));
}

interface PlanJson {
    resources: { name: string; type: string; inputs: Record<string, any> }[];
}

describe("architecture diagram (--diagram)", function () {
    this.timeout(120_000);
    let dir: string;
    let diagram: Promise<ProcessResult> | undefined;
    /** `npm run diagram`'s own process, once for the two specs that read it. */
    const diagramProcess = (file: string) => (diagram ??= planProcess(["--stack", "prod", "--diagram", file]));
    before(() => (dir = mkdtempSync(join(tmpdir(), "k8s-ha-diagram-"))));
    after(() => rmSync(dir, { recursive: true, force: true }));

    for (const stack of ["prod", "dev"]) {
        it(`${stack}: a valid SVG whose nodes are the plan's control planes in their zones, the NLB, every zone, the bastion, NAT gateways and workers`, async () => {
            const r = await planConfiguration(stack);
            const file = r.diagramFile;
            assert.equal(r.code, 0, r.stderr);
            assert.match(r.stderr, new RegExp(`diagram written to ${file}`));
            const json = r.json as PlanJson;
            const doc = parseSvg(readFileSync(file, "utf8"));

            const instances = json.resources.filter((x) => x.type === TYPES.instance);
            const byRole = (role: string) => instances.filter((i) => i.inputs.tags?.["k8s-ha/role"] === role);
            const expectNodes = (kind: string, role: string) =>
                assert.deepEqual(
                    nodes(doc, kind)
                        .map((n) => [n.name, n.zone])
                        .sort(),
                    byRole(role)
                        .map((i) => [i.name, i.inputs.availabilityZone])
                        .sort(),
                    kind,
                );
            assert.ok(byRole("control-plane").length >= 3);
            expectNodes("control-plane", "control-plane");
            expectNodes("worker", "worker");
            expectNodes("bastion", "bastion");

            const lbs = json.resources.filter((x) => x.type === TYPES.loadBalancer);
            assert.deepEqual(
                nodes(doc, "nlb").map((n) => n.name),
                lbs.map((l) => l.name),
            );
            assert.match(nodes(doc, "nlb")[0].text, /TCP 6443/);

            const zones = [
                ...new Set(json.resources.filter((x) => x.type === TYPES.subnet).map((s) => s.inputs.availabilityZone)),
            ].sort();
            assert.ok(zones.length >= 3);
            assert.deepEqual(
                elements(doc, "g")
                    .filter((g) => g.getAttribute("class") === "zone")
                    .map((g) => g.getAttribute("data-zone"))
                    .sort(),
                zones,
            );

            const nats = json.resources
                .filter((x) => x.type === TYPES.natGateway)
                .map((n) => n.name)
                .sort();
            assert.deepEqual(
                nodes(doc, "nat")
                    .map((n) => n.name)
                    .sort(),
                nats,
            );
            assert.equal(nats.length, stack === "prod" ? 3 : 1, "prod has a NAT gateway per zone, dev one");

            // Every control plane is an NLB target: one arrow per control plane.
            const arrows = elements(doc, "line").filter((l) => l.getAttribute("marker-end") === "url(#arrow-nlb)");
            assert.equal(
                arrows.length,
                byRole("control-plane").length + 1,
                "client → NLB, and NLB → each control plane",
            );

            const title = elements(doc, "title")[0].textContent ?? "";
            assert.match(title, new RegExp(`stack ${stack}`));
            assert.match(doc.documentElement!.textContent ?? "", /survives the loss of any one zone/);
        });
    }

    it("a layout that loses quorum with a zone says so in red, and the footer counts the mandatory violations (exit 1 still draws)", async () => {
        const r = await planConfiguration("dev", ['availabilityZones=["us-west-2a","us-west-2b"]']);
        assert.equal(r.code, 1);
        const doc = parseSvg(readFileSync(r.diagramFile, "utf8"));
        const text = doc.documentElement!.textContent ?? "";
        assert.match(text, /3 control planes over 2 zones \(2\+1\) · etcd quorum 2 · losing one zone can lose quorum/);
        assert.match(text, /policy pack: \d+ mandatory violations?/);
        assert.deepEqual(
            elements(doc, "g")
                .filter((g) => g.getAttribute("class") === "zone")
                .map((g) => g.getAttribute("data-zone"))
                .sort(),
            ["us-west-2a", "us-west-2b"],
        );
    });

    it("writes no diagram when the program fails (exit 2)", async () => {
        const r = await planConfiguration("dev", ["controlPlaneCount=eight"]);
        assert.equal(r.code, 2);
        assert.ok(!existsSync(r.diagramFile));
        assert.match(r.stderr, /no diagram: the program failed/);
    });

    it("escapes names: the SVG stays well-formed whatever the config holds", () => {
        const weird = 'a&b<c>"d"';
        const arch: Architecture = {
            stack: weird,
            clusterName: weird,
            region: "us-east-1",
            vpc: { name: weird, cidr: "10.0.0.0/16" },
            zones: [
                {
                    name: weird,
                    publicSubnets: [],
                    privateSubnets: [],
                    natGateways: [weird],
                    bastions: [],
                    controlPlanes: [{ name: weird, zone: weird }],
                    workers: [],
                },
            ],
            loadBalancer: { name: weird, internal: false, crossZone: true, targets: [weird], listener: "TCP 6443" },
            apiClients: [weird],
            sshClients: [],
            controlPlaneCount: 1,
            quorum: 1,
            survivesZoneLoss: false,
        };
        const doc = parseSvg(renderDiagram(arch));
        assert.deepEqual(
            nodes(doc, "control-plane").map((n) => n.name),
            [weird],
        );
    });

    it("docs/architecture.svg is what `npm run diagram` draws now (regenerate it with npm run diagram)", async () => {
        const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> };
        assert.match(pkg.scripts.diagram, /plan -- --stack prod --diagram docs\/architecture\.svg/);
        const file = join(dir, "architecture.svg");
        // exactly `npm run diagram`'s arguments (only the file differs), not a shared run
        const r = await diagramProcess(file);
        assert.equal(r.code, 0, r.stderr);
        const committed = readFileSync(join(ROOT, "docs", "architecture.svg"), "utf8");
        assert.ok(committed === readFileSync(file, "utf8"), "docs/architecture.svg is stale: run `npm run diagram`");
    });

    it("the command line run in the specs' process (planConfiguration) writes what its own process writes", async () => {
        const file = join(dir, "architecture.svg");
        const inProcessFile = join(dir, "in-process", "architecture.svg");
        const [own, here] = [
            await diagramProcess(file),
            await planInProcess(["--stack", "prod", "--diagram", inProcessFile]),
        ];
        assert.equal(here.code, own.code);
        assert.ok(here.stdout === own.stdout, "the same plan text");
        assert.equal(here.stderr, own.stderr.split(file).join(inProcessFile));
        assert.ok(readFileSync(inProcessFile, "utf8") === readFileSync(file, "utf8"), "the same diagram");
    });
});
