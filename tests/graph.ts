// Queries over a recorded program run, shared by the specs.
import type { ProgramRun, RecordedResource } from "../tools/harness/program";
import { unwrapSecrets } from "../tools/harness/values";
import { TYPES } from "../policies/lib/contract";

export const T = {
    instance: TYPES.instance,
    subnet: TYPES.subnet,
    natGateway: TYPES.natGateway,
    lb: TYPES.loadBalancer,
    targetGroup: TYPES.targetGroup,
    listener: TYPES.listener,
    attachment: TYPES.targetGroupAttachment,
    securityGroup: TYPES.securityGroup,
    ingress: TYPES.securityGroupIngressRule,
    egress: TYPES.securityGroupEgressRule,
    privateKey: TYPES.privateKey,
} as const;

export function ofType(run: ProgramRun, type: string): RecordedResource[] {
    return run.resources.filter((r) => r.type === type);
}

export function one(run: ProgramRun, type: string): RecordedResource {
    const found = ofType(run, type);
    if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
    return found[0];
}

export function byUrn(run: ProgramRun, urn: string): RecordedResource {
    const r = run.resources.find((x) => x.urn === urn);
    if (!r) throw new Error(`no resource ${urn}`);
    return r;
}

/** Inputs with secret wrappers removed (unknowns kept). */
export function plain(r: RecordedResource): any {
    return unwrapSecrets(r.inputs);
}

export function controlPlanes(run: ProgramRun): RecordedResource[] {
    return ofType(run, T.instance).filter((r) => plain(r).tags?.["k8s-ha/role"] === "control-plane");
}

/** The resources a property of `r` depends on (the engine's property dependencies). */
export function dependedOn(run: ProgramRun, r: RecordedResource, property: string): RecordedResource[] {
    return (r.propertyDependencies[property] ?? []).map((urn) => byUrn(run, urn));
}

/** The name of a security group a rule's property points at. */
export function groupName(run: ProgramRun, rule: RecordedResource, property: string): string | undefined {
    return dependedOn(run, rule, property).find((d) => d.type === T.securityGroup)?.name;
}
