package main

import "fmt"

// measureHostModes runs BenchmarkHostMode: the handler's cost of one request
// in each mode the Functions host may use (payload, forwarded, proxied),
// from the bytes the host stand-in sends, and reports payload and forwarded
// against proxied, the default host.json's mode for HTTP-only functions.
func measureHostModes(b *bench) error {
	res, cmd, err := runGoBenchmarks(b.root, "./handler", "^BenchmarkHostMode$", b.count)
	if err != nil {
		return err
	}
	b.r.goRuns = append(b.r.goRuns, goRun{cmd, res})
	for _, fn := range []struct{ name, what string }{
		{"negotiate", "negotiate (a browser's, 5 KB payload)"},
		{"messages", "messages (two messages)"},
		{"upstream", "upstream-direct (a JSON invocation, signed)"},
	} {
		proxied := res["BenchmarkHostMode/"+fn.name+"/proxied"]
		if proxied.NsPerOp == 0 {
			return fmt.Errorf("BenchmarkHostMode/%s/proxied did not run", fn.name)
		}
		for _, mode := range []string{"payload", "forwarded"} {
			m := res["BenchmarkHostMode/"+fn.name+"/"+mode]
			b.r.add(infoRow(fmt.Sprintf("Per request, by the host's mode: %s, %s vs proxied", fn.what, mode),
				costOf(m), costOf(proxied), m.NsPerOp/proxied.NsPerOp))
		}
	}
	return nil
}

func costOf(g goBench) string {
	return fmt.Sprintf("%s (%d allocs, %d B)", microsFromNs(g.NsPerOp), g.AllocsPerOp, g.BytesPerOp)
}
