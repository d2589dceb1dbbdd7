// Pure kubeadm renderers: typed data in, text out. No Pulumi resources, no I/O.
// The PKI and bootstrap components import from here.
export * from "./types";
export * from "./pki";
export * from "./config";
export * from "./shell";
export {
    KUBECONFIG_PHASES,
    initStdin,
    joinStdin,
    placePkiStdin,
    renderFirstControlPlaneScript,
    renderInitScript,
    renderJoinScript,
    renderNodeScripts,
    renderPlacePkiScript,
    renderPrepareScript,
    renderResetScript,
    renderRotateScript,
    renderScriptSet,
    resetStdin,
    type PlacedFile,
    type RenderedScript,
    type ScriptKind,
    type ScriptOptions,
    type ScriptSetInput,
} from "./scripts";
