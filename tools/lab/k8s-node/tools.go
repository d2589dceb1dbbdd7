//go:build tools

// Package tools pins the main package `npm run lab:tools -- --toolset k8s-node` builds, so that
// go mod tidy keeps every module it needs in go.sum.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-proxy"
)
