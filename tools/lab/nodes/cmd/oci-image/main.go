// Command oci-image writes a one-layer image archive that `ctr images import` reads: the files
// given as SOURCE=PATH-IN-IMAGE pairs on top of an empty base, under the given reference, with an
// optional entrypoint. The lab builds its images from its own static binaries with it, so that
// nothing is pulled from a registry.
//
//	oci-image -ref registry.k8s.io/pause:3.10.1 -out pause.tar -entrypoint /pause ./pause=/pause
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func main() {
	ref := flag.String("ref", "", "image reference the archive carries, as `kubeadm config images list` prints it")
	out := flag.String("out", "", "archive to write")
	entrypoint := flag.String("entrypoint", "", "entrypoint, split on spaces (optional)")
	flag.Parse()
	if *ref == "" || *out == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: oci-image -ref REF -out FILE [-entrypoint CMD] SOURCE=PATH-IN-IMAGE...")
		os.Exit(2)
	}
	if err := run(*ref, *out, *entrypoint, flag.Args()); err != nil {
		fmt.Fprintf(os.Stderr, "oci-image: %v\n", err)
		os.Exit(1)
	}
}

func run(ref, out, entrypoint string, files []string) error {
	tag, err := name.NewTag(ref)
	if err != nil {
		return fmt.Errorf("reference %q: %w", ref, err)
	}
	layer, err := layerOf(files)
	if err != nil {
		return err
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", "amd64"
	if a := os.Getenv("GOARCH"); a != "" {
		cfg.Architecture = a
	}
	if entrypoint != "" {
		cfg.Config.Entrypoint = strings.Fields(entrypoint)
	}
	cfg.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		return err
	}
	return tarball.WriteToFile(out, tag, img)
}

// layerOf builds an uncompressed tar layer from SOURCE=PATH pairs, parents first.
func layerOf(files []string) (v1.Layer, error) {
	var buf bytes.Buffer
	w := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	sort.Strings(files)
	for _, f := range files {
		_, dst, ok := strings.Cut(f, "=")
		if !ok || !strings.HasPrefix(dst, "/") {
			return nil, fmt.Errorf("file %q: want SOURCE=/PATH-IN-IMAGE", f)
		}
		dst = strings.TrimPrefix(path.Clean(dst), "/")
		for d := path.Dir(dst); d != "."; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	names := make([]string, 0, len(dirs))
	for d := range dirs {
		names = append(names, d)
	}
	sort.Strings(names) // a parent sorts before its children
	for _, d := range names {
		if err := w.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755}); err != nil {
			return nil, err
		}
	}
	for _, f := range files {
		src, dst, _ := strings.Cut(f, "=")
		if err := addFile(w, src, strings.TrimPrefix(path.Clean(dst), "/")); err != nil {
			return nil, err
		}
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
}

func addFile(w *tar.Writer, src, dst string) error {
	fi, err := os.Stat(src) // follows links: .lab/bin holds links into the build cache
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", src)
	}
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := w.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: dst, Mode: int64(fi.Mode().Perm()), Size: fi.Size()}); err != nil {
		return err
	}
	_, err = io.Copy(w, f)
	return err
}
