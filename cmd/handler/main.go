// Command handler is the Functions custom handler. This placeholder only
// dispatches `handler check`; `serve` comes with the handler package.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "check" {
		os.Exit(runCheck(os.Args[2:], os.Stdout, os.Stderr))
	}
	fmt.Fprintln(os.Stderr, "usage: handler check [-offline] [-json]")
	os.Exit(2)
}
