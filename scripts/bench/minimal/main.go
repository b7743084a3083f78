// Command minimal is the smallest net/http server answering GET / on
// 127.0.0.1:$FUNCTIONS_CUSTOMHANDLER_PORT: the baseline the handler's
// start-up time is compared with in make bench.
package main

import (
	"fmt"
	"net/http"
	"os"
)

func main() {
	addr := "127.0.0.1:" + os.Getenv("FUNCTIONS_CUSTOMHANDLER_PORT")
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {})
	if err := http.ListenAndServe(addr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "minimal:", err)
		os.Exit(1)
	}
}
