//go:build tools

// Package tools pins the main package `npm run lab:tools -- --toolset cri-tools` builds.
package tools

import (
	_ "sigs.k8s.io/cri-tools/cmd/crictl"
)
