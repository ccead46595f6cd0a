// Command tcpsink accepts TCP connections and closes them at once. It is the
// always-up backend that dnslb's TCP health checks probe in the "health"
// scenario of bench/run.sh, so the checks pass without any real service and
// without the probes landing on the server under test.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	fs := flag.NewFlagSet("tcpsink", flag.ContinueOnError)
	addr := fs.String("listen", "127.0.0.1:0", "address to accept connections on")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tcpsink:", err)
		return 1
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, "tcpsink:", err)
			return 1
		}
		c.Close()
	}
}
