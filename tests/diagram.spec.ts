// `npm run plan -- --stack <s> --diagram <file.svg>`: a well-formed SVG drawn from the plan's own
// recorded resources, with a node for every control plane (in its zone), the NLB, every zone,
// the bastion, NAT gateways and workers; and docs/architecture.svg is what `npm run diagram` draws.
import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DOMParser, type Document, type Element } from "@xmldom/xmldom";
import { renderDiagram, type Architecture } from "../tools/plan/diagram";

const ROOT = join(__dirname, "..");
const SVG_NS = "http://www.w3.org/2000/svg";

interface Run { code: number; stdout: string; stderr: string }

/** The offline plan exactly as `npm run plan` runs it. */
function plan(args: string[]): Promise<Run> {
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> };
    const [bin, ...pre] = pkg.scripts.plan.split(/\s+/);
    assert.equal(bin, "node", "the plan script runs node");
    return new Promise((resolve) => {
        execFile(process.execPath, [...pre, ...args], { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
            resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr });
        });
    });
}

/** Strict XML parse: any warning or error fails. */
function parseSvg(text: string): Document {
    const doc = new DOMParser({ onError: (level, message) => { throw new Error(`${level}: ${message}`); } }).parseFromString(text, "image/svg+xml");
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
        .map((g) => ({ name: g.getAttribute("data-name") ?? "", zone: g.getAttribute("data-zone"), text: g.textContent ?? "" }));
}

interface PlanJson { resources: { name: string; type: string; inputs: Record<string, any> }[] }

describe("architecture diagram (--diagram)", function () {
    this.timeout(120_000);
    let dir: string;
    before(() => (dir = mkdtempSync(join(tmpdir(), "k8s-ha-diagram-"))));
    after(() => rmSync(dir, { recursive: true, force: true }));

    for (const stack of ["prod", "dev"]) {
        it(`${stack}: a valid SVG whose nodes are the plan's control planes in their zones, the NLB, every zone, the bastion, NAT gateways and workers`, async () => {
            const file = join(dir, `nested/${stack}.svg`);
            const r = await plan(["--stack", stack, "--json", "--diagram", file]);
            assert.equal(r.code, 0, r.stderr);
            assert.match(r.stderr, new RegExp(`diagram written to ${file}`));
            const json = JSON.parse(r.stdout) as PlanJson;
            const doc = parseSvg(readFileSync(file, "utf8"));

            const instances = json.resources.filter((x) => x.type === "aws:ec2/instance:Instance");
            const byRole = (role: string) => instances.filter((i) => i.inputs.tags?.["k8s-ha/role"] === role);
            const expectNodes = (kind: string, role: string) =>
                assert.deepEqual(nodes(doc, kind).map((n) => [n.name, n.zone]).sort(), byRole(role).map((i) => [i.name, i.inputs.availabilityZone]).sort(), kind);
            assert.ok(byRole("control-plane").length >= 3);
            expectNodes("control-plane", "control-plane");
            expectNodes("worker", "worker");
            expectNodes("bastion", "bastion");

            const lbs = json.resources.filter((x) => x.type === "aws:lb/loadBalancer:LoadBalancer");
            assert.deepEqual(nodes(doc, "nlb").map((n) => n.name), lbs.map((l) => l.name));
            assert.match(nodes(doc, "nlb")[0].text, /TCP 6443/);

            const zones = [...new Set(json.resources.filter((x) => x.type === "aws:ec2/subnet:Subnet").map((s) => s.inputs.availabilityZone))].sort();
            assert.ok(zones.length >= 3);
            assert.deepEqual(elements(doc, "g").filter((g) => g.getAttribute("class") === "zone").map((g) => g.getAttribute("data-zone")).sort(), zones);

            const nats = json.resources.filter((x) => x.type === "aws:ec2/natGateway:NatGateway").map((n) => n.name).sort();
            assert.deepEqual(nodes(doc, "nat").map((n) => n.name).sort(), nats);
            assert.equal(nats.length, stack === "prod" ? 3 : 1, "prod has a NAT gateway per zone, dev one");

            // Every control plane is an NLB target: one arrow per control plane.
            const arrows = elements(doc, "line").filter((l) => l.getAttribute("marker-end") === "url(#arrow-nlb)");
            assert.equal(arrows.length, byRole("control-plane").length + 1, "client → NLB, and NLB → each control plane");

            const title = elements(doc, "title")[0].textContent ?? "";
            assert.match(title, new RegExp(`stack ${stack}`));
            assert.match(doc.documentElement!.textContent ?? "", /survives the loss of any one zone/);
        });
    }

    it("a layout that loses quorum with a zone says so in red, and the footer counts the mandatory violations (exit 1 still draws)", async () => {
        const file = join(dir, "two-zones.svg");
        const r = await plan(["--stack", "dev", "--config", 'availabilityZones=["us-west-2a","us-west-2b"]', "--diagram", file]);
        assert.equal(r.code, 1);
        const doc = parseSvg(readFileSync(file, "utf8"));
        const text = doc.documentElement!.textContent ?? "";
        assert.match(text, /3 control planes over 2 zones \(2\+1\) · etcd quorum 2 · losing one zone can lose quorum/);
        assert.match(text, /policy pack: \d+ mandatory violations?/);
        assert.deepEqual(elements(doc, "g").filter((g) => g.getAttribute("class") === "zone").map((g) => g.getAttribute("data-zone")).sort(), ["us-west-2a", "us-west-2b"]);
    });

    it("writes no diagram when the program fails (exit 2)", async () => {
        const file = join(dir, "failed.svg");
        const r = await plan(["--stack", "dev", "--config", "controlPlaneCount=eight", "--diagram", file]);
        assert.equal(r.code, 2);
        assert.ok(!existsSync(file));
        assert.match(r.stderr, /no diagram: the program failed/);
    });

    it("escapes names: the SVG stays well-formed whatever the config holds", () => {
        const weird = "a&b<c>\"d\"";
        const arch: Architecture = {
            stack: weird, clusterName: weird, region: "us-east-1", vpc: { name: weird, cidr: "10.0.0.0/16" },
            zones: [{ name: weird, publicSubnets: [], privateSubnets: [], natGateways: [weird], bastions: [], controlPlanes: [{ name: weird, zone: weird }], workers: [] }],
            loadBalancer: { name: weird, internal: false, crossZone: true, targets: [weird], listener: "TCP 6443" },
            apiClients: [weird], sshClients: [], controlPlaneCount: 1, quorum: 1, survivesZoneLoss: false,
        };
        const doc = parseSvg(renderDiagram(arch));
        assert.deepEqual(nodes(doc, "control-plane").map((n) => n.name), [weird]);
    });

    it("docs/architecture.svg is what `npm run diagram` draws now (regenerate it with npm run diagram)", async () => {
        const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> };
        assert.match(pkg.scripts.diagram, /plan -- --stack prod --diagram docs\/architecture\.svg/);
        const file = join(dir, "architecture.svg");
        const r = await plan(["--stack", "prod", "--diagram", file]);
        assert.equal(r.code, 0, r.stderr);
        const committed = readFileSync(join(ROOT, "docs", "architecture.svg"), "utf8");
        assert.ok(committed === readFileSync(file, "utf8"), "docs/architecture.svg is stale: run `npm run diagram`");
    });
});
