// The node sandboxes' own tools (tests/nodes): the pod sandbox program and the image writer that
// turns the lab's static binaries into images for `ctr images import`, so that nothing is pulled.
module k8s-ha-lab/nodes

go 1.25.0

require github.com/google/go-containerregistry v0.22.1

require (
	github.com/klauspost/compress v1.19.2 // indirect
	github.com/opencontainers/go-digest v1.0.0 // indirect
	github.com/opencontainers/image-spec v1.1.1 // indirect
)
