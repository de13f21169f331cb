// Command load measures what scimgate costs. It builds scimgate, runs it on
// the embedded store in front of a trivial SCIM upstream, and drives each
// scenario for a fixed time at fixed concurrency from this process:
// client-credentials tokens; the same authenticated SCIM GET sent direct to
// the upstream, through a bare httputil.ReverseProxy, through nginx (when
// installed) and through scimgate with an access token and with an API key;
// and an Entra-like provisioning cycle (filter, create, patch). It prints
// one markdown table with the machine it ran on, and exits 1 when any
// request failed.
//
// With -runs N it goes through the scenarios N times in turn on the same
// servers and ends with each row's median and range over the runs, which
// is what the README quotes: one run on a shared 2-core machine is too
// noisy to judge a target by.
//
//	go run ./test/load [-duration 10s] [-warmup 2s] [-c 16] [-run REGEXP] [-runs N]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"regexp"
	"sync"
	"syscall"
	"time"

	"github.com/scimgate/scimgate/test/load/httpload"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == helperArg {
		if err := serveHelper(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "load:", err)
			os.Exit(2)
		}
		return
	}
	var o options
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "measured time of each scenario")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured load before each scenario")
	flag.IntVar(&o.conns, "c", 16, "concurrent connections")
	flag.IntVar(&o.runs, "runs", 1, "go through the scenarios this many times in turn and end with medians and ranges")
	run := flag.String("run", "", "run only the scenarios whose name matches this regular expression")
	flag.StringVar(&o.scimgate, "scimgate", "", "scimgate binary to measure (default: build ./cmd/scimgate)")
	flag.BoolVar(&o.keep, "keep", false, "keep the working directory (config, store, logs)")
	flag.StringVar(&o.profile, "profile", "", "write scimgate's CPU and allocation profiles of each of its scenarios into this directory")
	flag.Parse()
	if o.runs < 1 {
		fmt.Fprintln(os.Stderr, "load: -runs must be at least 1")
		os.Exit(2)
	}
	var err error
	if o.only, err = regexp.Compile(*run); err != nil {
		fmt.Fprintln(os.Stderr, "load: -run:", err)
		os.Exit(2)
	}
	if o.profile != "" {
		if err := os.MkdirAll(o.profile, 0o755); err != nil {
			fmt.Fprintln(os.Stderr, "load: -profile:", err)
			os.Exit(2)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	failed, err := measure(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(2)
	}
	if failed {
		os.Exit(1)
	}
}

type options struct {
	duration, warmup time.Duration
	conns, runs      int
	only             *regexp.Regexp
	scimgate         string
	keep             bool
	profile          string
}

// measure starts the servers, runs the scenarios and prints the report. It
// reports whether any request failed.
func measure(ctx context.Context, o options) (failed bool, err error) {
	dir, err := os.MkdirTemp("", "scimgate-load-")
	if err != nil {
		return false, err
	}
	if o.keep {
		fmt.Fprintln(os.Stderr, "load: working directory", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	bin := o.scimgate
	if bin == "" {
		fmt.Fprintln(os.Stderr, "load: building scimgate")
		if bin, err = buildScimgate(dir); err != nil {
			return false, err
		}
	}
	up, err := startHelper("upstream", "upstream")
	if err != nil {
		return false, err
	}
	defer up.stop()
	srv := servers{upstream: up}
	for _, h := range []struct {
		s          **server
		name, kind string
	}{
		{&srv.reverseProxy, "httputil.ReverseProxy", "reverseproxy"},
		{&srv.relay, "minimal relay", "relay"},
		{&srv.relayNetHTTP, "minimal relay, net/http server", "relay-nethttp"},
	} {
		if *h.s, err = startHelper(h.name, h.kind, up.addr); err != nil {
			return false, err
		}
		defer (*h.s).stop()
	}
	ngx, err := startNginx(dir, up.addr)
	if err != nil {
		return false, err
	}
	if ngx == nil {
		fmt.Fprintln(os.Stderr, "load: nginx is not installed; its scenario is skipped")
	} else {
		defer ngx.stop()
	}
	srv.nginx = ngx
	fmt.Fprintln(os.Stderr, "load: starting scimgate and creating a tenant, a client and an API key")
	gw, err := startGateway(bin, dir, up.addr)
	if err != nil {
		return false, err
	}
	defer gw.stop()
	srv.gateway = gw
	token, err := gw.accessToken(ctx)
	if err != nil {
		return false, err
	}

	runs := make([][]row, o.runs)
	for i := range runs {
		for _, sc := range scenarios(srv, token) {
			if !o.only.MatchString(sc.name) {
				continue
			}
			if sc.server == nil {
				runs[i] = append(runs[i], row{scenario: sc, skipped: true})
				continue
			}
			fmt.Fprintf(os.Stderr, "load: %s%s (%s warm-up, %s measured, %d connections)\n", sc.name, ofRuns(i, o.runs),
				o.warmup, o.duration, o.conns)
			// Profiles of the first run only: later ones would overwrite them.
			r, err := runScenario(ctx, o, sc, gw, srv.all(), i == 0)
			if err != nil {
				return false, fmt.Errorf("%s: %w", sc.name, err)
			}
			runs[i] = append(runs[i], r)
			failed = failed || r.res.Errors > 0
			// Let connections close and the servers settle between scenarios.
			time.Sleep(500 * time.Millisecond)
		}
	}
	report(os.Stdout, o, runs, ngx)
	return failed, nil
}

// ofRuns names run i of n in progress lines, when there are several.
func ofRuns(i, n int) string {
	if n == 1 {
		return ""
	}
	return fmt.Sprintf(", run %d of %d", i+1, n)
}

// runScenario measures one scenario: the load, the CPU time the server and
// this generator used while it was measured, the CPU time other processes
// of the machine used meanwhile, the server's peak RSS and, with -profile,
// scimgate's CPU and allocation profiles. all are the servers this run
// started; profile says whether this run may write profiles.
func runScenario(ctx context.Context, o options, sc scenario, gw *gateway, all []*server, profile bool) (row, error) {
	sc.server.resetPeakRSS()
	var serverCPU, selfCPU, ownCPU, machineCPU time.Duration
	measuring := time.AfterFunc(o.warmup, func() {
		serverCPU, selfCPU = sc.server.cpuTime(), selfCPUTime()
		ownCPU, machineCPU = runCPUTime(all), machineBusyTime()
	})
	defer measuring.Stop()
	var profiles sync.WaitGroup
	if profile && o.profile != "" && sc.server == gw.server {
		profiles.Go(func() { gw.profile(ctx, o, sc.name) })
	}
	res, err := httpload.Run(ctx, httpload.Plan{Addr: sc.server.addr, Connections: o.conns,
		Warmup: o.warmup, Duration: o.duration, Cycle: sc.cycle})
	if err != nil {
		return row{}, err
	}
	r := row{scenario: sc, res: res, peakRSS: sc.server.peakRSS()}
	if machineCPU > 0 {
		r.otherCPU = max(0, (machineBusyTime()-machineCPU)-(runCPUTime(all)-ownCPU))
	}
	if res.Requests > 0 {
		r.serverCPU = (sc.server.cpuTime() - serverCPU) / time.Duration(res.Requests)
		r.loadCPU = (selfCPUTime() - selfCPU) / time.Duration(res.Requests)
	}
	profiles.Wait()
	return r, nil
}
