// Command depsfloor is scripts/bench/minimal with the handler's required
// dependencies linked but unused: azidentity (with azcore and MSAL),
// golang-jwt and envconfig. Go initialises every package a program links
// before main runs, so its start-up is the floor for any program built on
// them; make bench reports the handler against it and it against minimal.
package main

import (
	"fmt"
	"net/http"
	"os"

	_ "github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	_ "github.com/golang-jwt/jwt/v5"
	_ "github.com/kelseyhightower/envconfig"
)

func main() {
	addr := "127.0.0.1:" + os.Getenv("FUNCTIONS_CUSTOMHANDLER_PORT")
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {})
	if err := http.ListenAndServe(addr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "depsfloor:", err)
		os.Exit(1)
	}
}
