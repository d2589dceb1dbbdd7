// pulumi-language-nodejs: a small stand-in for Pulumi's Node.js language host, for the engine lane.
//
// Why it exists: upstream's host is its own Go module
// (github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3), and the Go module proxy
// these machines reach does not serve it (403 for every version and pseudo-version). The CLI
// (github.com/pulumi/pulumi/pkg/v3/cmd/pulumi, built from the proxy) needs a `nodejs` language
// plugin to run the program and, through RunPlugin, the CrossGuard pack.
//
// What it is, honestly: a stand-in for the HOST only, never for the engine or the SDK. It serves
// pulumirpc.LanguageRuntime from sdk/v3 at the CLI's version and launches the REAL
// node_modules/@pulumi/pulumi/cmd/run (programs) and cmd/run-policy-pack (policy packs) the way
// upstream's host does: the same command-line flags, PULUMI_CONFIG / PULUMI_CONFIG_SECRET_KEYS,
// PULUMI_NODEJS_TYPESCRIPT / _TSCONFIG_PATH from the runtime options, exit code 32 as "the
// program already reported its error" (bail). Everything the engine decides (diffs, replacement,
// ordering, protect, policies) is the real CLI's. Not implemented (Unimplemented errors, never
// faked): code generation, templates, `pulumi install` of npm packages (dependencies come from
// `npm ci`), and RunPlugin of non-policy Node.js plugins.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/cmdutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

// The Node.js SDK exits with this code after it has printed an actionable error itself.
const exitAfterReportedError = 32

func main() {
	flag.String("tracing", "", "ignored: tracing endpoint")
	flag.Bool("typescript", true, "ignored: the project's runtime options decide")
	flag.String("root", "", "ignored: the engine passes the root with each request")
	flag.Parse()
	engine := ""
	if flag.NArg() > 0 {
		engine = flag.Arg(flag.NArg() - 1)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		cmdutil.Exit(fmt.Errorf("could not find node on the $PATH: %w", err))
	}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, &host{node: node, engine: engine})
			return nil
		},
	})
	if err != nil {
		cmdutil.Exit(fmt.Errorf("could not start the language host RPC server: %w", err))
	}
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		cmdutil.Exit(fmt.Errorf("language host RPC stopped serving: %w", err))
	}
}

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	node   string
	engine string
}

func (h *host) Handshake(_ context.Context, req *pulumirpc.LanguageHandshakeRequest) (*pulumirpc.LanguageHandshakeResponse, error) {
	if req.GetEngineAddress() != "" {
		h.engine = req.GetEngineAddress()
	}
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *host) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version.Version}, nil
}

// resolve finds a module the way node does, from dir (the program's or the pack's directory).
func (h *host) resolve(dir, module string) (string, error) {
	cmd := exec.Command(h.node, "-e", fmt.Sprintf("process.stdout.write(require.resolve(%q))", module))
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("cannot resolve %s from %s (run npm ci): %w", module, dir, err)
	}
	return string(out), nil
}

func options(info *pulumirpc.ProgramInfo) map[string]any {
	if info == nil || info.GetOptions() == nil {
		return map[string]any{}
	}
	return info.GetOptions().AsMap()
}

// runtimeEnv is what upstream's host derives from the project's runtime options.
func runtimeEnv(opts map[string]any) []string {
	env := []string{}
	typescript := true
	if v, ok := opts["typescript"].(bool); ok {
		typescript = v
	}
	env = append(env, fmt.Sprintf("PULUMI_NODEJS_TYPESCRIPT=%t", typescript))
	if v, ok := opts["tsconfig"].(string); ok && v != "" {
		env = append(env, "PULUMI_NODEJS_TSCONFIG_PATH="+v)
	}
	if v, ok := opts["nodeargs"].(string); ok && v != "" {
		env = append(env, "NODE_OPTIONS="+strings.TrimSpace(os.Getenv("NODE_OPTIONS")+" "+v))
	}
	return env
}

func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	info := req.GetInfo()
	programDir := req.GetPwd()
	entry := req.GetProgram()
	root := ""
	if info != nil {
		programDir, entry, root = info.GetProgramDirectory(), info.GetEntryPoint(), info.GetRootDirectory()
	}
	if entry == "" {
		entry = "."
	}
	runPath, err := h.resolve(programDir, "@pulumi/pulumi/cmd/run")
	if err != nil {
		return nil, err
	}
	args := []string{runPath}
	flagIf := func(k, v string) {
		if v != "" {
			args = append(args, "--"+k, v)
		}
	}
	flagIf("monitor", req.GetMonitorAddress())
	flagIf("engine", h.engine)
	flagIf("organization", req.GetOrganization())
	flagIf("project", req.GetProject())
	flagIf("stack", req.GetStack())
	flagIf("pwd", req.GetPwd())
	flagIf("root-directory", root)
	if req.GetDryRun() {
		args = append(args, "--dry-run")
	}
	flagIf("parallel", fmt.Sprint(req.GetParallel()))
	args = append(args, entry)
	args = append(args, req.GetArgs()...)

	config, err := json.Marshal(req.GetConfig())
	if err != nil {
		return nil, err
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	secrets, err := json.Marshal(secretKeys)
	if err != nil {
		return nil, err
	}
	env := append(os.Environ(), "PULUMI_CONFIG="+string(config), "PULUMI_CONFIG_SECRET_KEYS="+string(secrets))
	env = append(env, runtimeEnv(options(info))...)

	cmd := exec.CommandContext(ctx, h.node, args...)
	cmd.Dir = req.GetPwd()
	cmd.Stdout, cmd.Stderr, cmd.Env = os.Stdout, os.Stderr, env
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			if exit.ExitCode() == exitAfterReportedError {
				return &pulumirpc.RunResponse{Bail: true}, nil
			}
			return &pulumirpc.RunResponse{Error: fmt.Sprintf("Program exited with non-zero exit code: %d", exit.ExitCode())}, nil
		}
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("could not run the Node.js program: %v", err)}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

// RunPlugin runs a Node.js policy pack: `node <run-policy-pack> <engine address> .` in the pack's
// directory; the pack prints its port on stdout, which is streamed back to the engine.
func (h *host) RunPlugin(req *pulumirpc.RunPluginRequest, server grpc.ServerStreamingServer[pulumirpc.RunPluginResponse]) error {
	if req.GetKind() != "analyzer" {
		return status.Errorf(codes.Unimplemented, "this stand-in Node.js host runs policy packs only, not %q plugins", req.GetKind())
	}
	info := req.GetInfo()
	dir := req.GetPwd()
	entry := "."
	if info != nil {
		dir = info.GetProgramDirectory()
		if info.GetEntryPoint() != "" {
			entry = info.GetEntryPoint()
		}
	}
	runPath, err := h.resolve(dir, "@pulumi/pulumi/cmd/run-policy-pack")
	if err != nil {
		return err
	}
	args := append([]string{runPath}, req.GetArgs()...)
	args = append(args, entry)
	cmd := exec.CommandContext(server.Context(), h.node, args...)
	cmd.Dir = dir
	cmd.Env = append(append([]string{}, req.GetEnv()...), runtimeEnv(options(info))...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	var mu sync.Mutex
	send := func(r *pulumirpc.RunPluginResponse) {
		mu.Lock()
		defer mu.Unlock()
		_ = server.Send(r)
	}
	var wg sync.WaitGroup
	pump := func(r io.Reader, wrap func([]byte) *pulumirpc.RunPluginResponse) {
		defer wg.Done()
		reader := bufio.NewReader(r)
		for {
			line, err := reader.ReadBytes('\n')
			if len(line) > 0 {
				send(wrap(line))
			}
			if err != nil {
				return
			}
		}
	}
	wg.Add(2)
	go pump(stdout, func(b []byte) *pulumirpc.RunPluginResponse {
		return &pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stdout{Stdout: b}}
	})
	go pump(stderr, func(b []byte) *pulumirpc.RunPluginResponse {
		return &pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stderr{Stderr: b}}
	})
	wg.Wait()
	code := 0
	if err := cmd.Wait(); err != nil {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			return err
		}
		code = exit.ExitCode()
	}
	send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: int32(code)}})
	return nil
}

type packageJSON struct {
	Name         string            `json:"name"`
	Version      string            `json:"version"`
	Dependencies map[string]string `json:"dependencies"`
	DevDeps      map[string]string `json:"devDependencies"`
	Pulumi       struct {
		Resource bool   `json:"resource"`
		Name     string `json:"name"`
		Version  string `json:"version"`
		Server   string `json:"server"`
	} `json:"pulumi"`
}

func readPackage(path string) (*packageJSON, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var p packageJSON
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &p, nil
}

// requiredPackages walks node_modules (as upstream does) for packages that declare a resource plugin.
func requiredPackages(dir string) ([]*pulumirpc.PackageDependency, error) {
	seen := map[string]*pulumirpc.PackageDependency{}
	var walk func(string) error
	walk = func(modules string) error {
		entries, err := os.ReadDir(modules)
		if err != nil {
			return nil // no node_modules here
		}
		for _, e := range entries {
			names := []string{filepath.Join(modules, e.Name())}
			if strings.HasPrefix(e.Name(), "@") {
				scoped, _ := os.ReadDir(names[0])
				names = names[:0]
				for _, s := range scoped {
					names = append(names, filepath.Join(modules, e.Name(), s.Name()))
				}
			}
			for _, pkgDir := range names {
				p, err := readPackage(filepath.Join(pkgDir, "package.json"))
				if err == nil && p.Pulumi.Resource {
					name := p.Pulumi.Name
					if name == "" {
						name = strings.TrimPrefix(strings.TrimPrefix(p.Name, "@pulumi/"), "@")
					}
					v := p.Pulumi.Version
					if v == "" {
						v = p.Version
					}
					v = "v" + strings.TrimPrefix(v, "v")
					seen[name+"@"+v] = &pulumirpc.PackageDependency{Name: name, Kind: "resource", Version: v, Server: p.Pulumi.Server}
				}
				if err := walk(filepath.Join(pkgDir, "node_modules")); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(filepath.Join(dir, "node_modules")); err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]*pulumirpc.PackageDependency, 0, len(keys))
	for _, k := range keys {
		out = append(out, seen[k])
	}
	return out, nil
}

func programDir(info *pulumirpc.ProgramInfo, fallback string) string {
	if info != nil && info.GetProgramDirectory() != "" {
		return info.GetProgramDirectory()
	}
	return fallback
}

func (h *host) GetRequiredPackages(_ context.Context, req *pulumirpc.GetRequiredPackagesRequest) (*pulumirpc.GetRequiredPackagesResponse, error) {
	pkgs, err := requiredPackages(programDir(req.GetInfo(), "."))
	if err != nil {
		return nil, err
	}
	return &pulumirpc.GetRequiredPackagesResponse{Packages: pkgs}, nil
}

func (h *host) GetRequiredPlugins(_ context.Context, req *pulumirpc.GetRequiredPluginsRequest) (*pulumirpc.GetRequiredPluginsResponse, error) {
	pkgs, err := requiredPackages(programDir(req.GetInfo(), req.GetProgram()))
	if err != nil {
		return nil, err
	}
	plugins := make([]*pulumirpc.PluginDependency, 0, len(pkgs))
	for _, p := range pkgs {
		plugins = append(plugins, &pulumirpc.PluginDependency{Name: p.Name, Kind: p.Kind, Version: p.Version, Server: p.Server})
	}
	return &pulumirpc.GetRequiredPluginsResponse{Plugins: plugins}, nil
}

// InstallDependencies does nothing: `npm ci` installs this repository's dependencies.
func (h *host) InstallDependencies(_ *pulumirpc.InstallDependenciesRequest, server grpc.ServerStreamingServer[pulumirpc.InstallDependenciesResponse]) error {
	return server.Send(&pulumirpc.InstallDependenciesResponse{Stdout: []byte("stand-in Node.js host: dependencies come from `npm ci`; nothing installed\n")})
}

func (h *host) About(context.Context, *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	out, err := exec.Command(h.node, "--version").Output()
	if err != nil {
		return nil, err
	}
	return &pulumirpc.AboutResponse{Executable: h.node, Version: strings.TrimSpace(string(out)),
		Metadata: map[string]string{"host": "k8s-ha stand-in pulumi-language-nodejs (tools/lab/pulumi)"}}, nil
}

// GetProgramDependencies lists package.json's dependencies at their installed versions.
func (h *host) GetProgramDependencies(_ context.Context, req *pulumirpc.GetProgramDependenciesRequest) (*pulumirpc.GetProgramDependenciesResponse, error) {
	dir := programDir(req.GetInfo(), req.GetPwd())
	p, err := readPackage(filepath.Join(dir, "package.json"))
	if err != nil {
		return nil, err
	}
	deps := map[string]string{}
	for k, v := range p.Dependencies {
		deps[k] = v
	}
	if req.GetTransitiveDependencies() {
		for k, v := range p.DevDeps {
			deps[k] = v
		}
	}
	names := make([]string, 0, len(deps))
	for k := range deps {
		names = append(names, k)
	}
	sort.Strings(names)
	out := []*pulumirpc.DependencyInfo{}
	for _, name := range names {
		v := deps[name]
		if installed, err := readPackage(filepath.Join(dir, "node_modules", name, "package.json")); err == nil {
			v = installed.Version
		}
		out = append(out, &pulumirpc.DependencyInfo{Name: name, Version: v})
	}
	return &pulumirpc.GetProgramDependenciesResponse{Dependencies: out}, nil
}

func (h *host) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}
