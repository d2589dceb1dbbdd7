// Command pause is the lab's pod sandbox process: it holds a pod's namespaces open, reaps the
// children it inherits as PID 1, and exits on SIGINT or SIGTERM. It does what the upstream pause
// container does (https://github.com/kubernetes/kubernetes/tree/master/build/pause), built here
// so that no image is pulled.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	// As upstream's pause.c: any -v prints a version and exits 0. kubeadm's upgrade health check
	// ("CreateJob") runs the pause image with -v as a Job that must complete.
	for _, arg := range os.Args[1:] {
		if strings.EqualFold(arg, "-v") {
			fmt.Println("pause.c k8s-ha-lab")
			return
		}
	}
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range signals {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		// Reap every exited child; as PID 1 of the pod nothing else will.
		for {
			pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
