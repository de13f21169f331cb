package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/scimgate/scimgate/test/load/httpload"
)

// row is one measured (or skipped) scenario.
type row struct {
	scenario
	res     *httpload.Result
	peakRSS int64
	// CPU time per request of the server under test and of the load
	// generator, during the measured period.
	serverCPU, loadCPU time.Duration
	// otherCPU is what the machine's other processes used meanwhile.
	otherCPU time.Duration
	skipped  bool
}

// Targets of issue 7.
const (
	minTokensPerSecond = 10_000
	maxTokenP99        = 10 * time.Millisecond
	minGatewayRatio    = 0.40
	maxGatewayAddedP50 = 300 * time.Microsecond
)

func report(w io.Writer, o options, rows []row, ngx *server) {
	byName := map[string]*row{}
	for i := range rows {
		byName[rows[i].name] = &rows[i]
	}
	fmt.Fprintf(w, "Machine: %s\n", machine(ngx))
	fmt.Fprintf(w, "Command: %s\n", strings.TrimSpace("go run ./test/load "+strings.Join(os.Args[1:], " ")))
	fmt.Fprintf(w, "Each scenario: %s warm-up, then %s measured at %d connections; load generator on the same machine.\n\n",
		o.warmup, o.duration, o.conns)
	fmt.Fprintln(w, "| Scenario | Through | req/s | × direct | p50 | p50 − direct | p99 | Errors | Peak RSS | Server CPU/req | Load CPU/req |")
	fmt.Fprintln(w, "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	for _, r := range rows {
		if r.skipped {
			fmt.Fprintf(w, "| %s | %s | skipped: not installed | | | | | | | | |\n", r.name, r.through)
			continue
		}
		ratio, added := "", ""
		if base := byName[r.compare]; base != nil && base.res != nil {
			ratio = fmt.Sprintf("%.2f×", r.res.PerSecond()/base.res.PerSecond())
			added = signed(r.res.Latency.Quantile(0.5) - base.res.Latency.Quantile(0.5))
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %d | %s | %s | %s |\n", r.name, r.through, thousands(r.res.PerSecond()),
			ratio, duration(r.res.Latency.Quantile(0.5)), added, duration(r.res.Latency.Quantile(0.99)), r.res.Errors, mib(r.peakRSS),
			duration(r.serverCPU), duration(r.loadCPU))
	}
	fmt.Fprintln(w)
	for _, r := range rows {
		if r.res != nil && r.res.Errors > 0 {
			fmt.Fprintf(w, "Errors in %s: %d of %d requests, first: %s\n", r.name, r.res.Errors, r.res.Requests, r.res.FirstError)
		}
	}
	otherLoad(w, o, rows)
	targets(w, rows, byName)
}

// otherLoad says how much CPU other processes took while scenarios were
// measured: on a shared machine it is why two runs differ.
func otherLoad(w io.Writer, o options, rows []row) {
	var sum, worst time.Duration
	var worstName string
	n := 0
	for _, r := range rows {
		if r.res == nil {
			continue
		}
		n++
		sum += r.otherCPU
		if r.otherCPU > worst {
			worst, worstName = r.otherCPU, r.name
		}
	}
	if n == 0 {
		return
	}
	share := func(d time.Duration) float64 { return 100 * float64(d) / float64(o.duration) }
	fmt.Fprintf(w, "Other processes used %.0f%% of one core on average while scenarios were measured (most: %.0f%% during %s).\n\n",
		share(sum/time.Duration(n)), share(worst), worstName)
}

func targets(w io.Writer, rows []row, byName map[string]*row) {
	var lines []string
	for _, r := range rows {
		if r.res == nil {
			continue
		}
		switch r.target {
		case tokenTarget:
			rate, p99 := r.res.PerSecond(), r.res.Latency.Quantile(0.99)
			lines = append(lines, fmt.Sprintf("- %s: %s/s (target ≥ %s/s), p99 %s (target ≤ %s): %s", r.name, thousands(rate),
				thousands(minTokensPerSecond), duration(p99), duration(maxTokenP99), verdict(rate >= minTokensPerSecond && p99 <= maxTokenP99 && r.res.Errors == 0)))
		case gatewayTarget:
			base := byName[r.compare]
			if base == nil || base.res == nil {
				continue
			}
			ratio := r.res.PerSecond() / base.res.PerSecond()
			added := r.res.Latency.Quantile(0.5) - base.res.Latency.Quantile(0.5)
			line := fmt.Sprintf("- %s: %.2f× direct (target ≥ %.2f×), median %s (target ≤ +%s): %s", r.name, ratio, minGatewayRatio,
				signed(added), duration(maxGatewayAddedP50), verdict(ratio >= minGatewayRatio && added <= maxGatewayAddedP50 && r.res.Errors == 0))
			if ngx := byName["get-nginx"]; ngx != nil && ngx.res != nil {
				line += fmt.Sprintf("; %.2f× nginx", r.res.PerSecond()/ngx.res.PerSecond())
			}
			lines = append(lines, line)
		}
	}
	if len(lines) > 0 {
		fmt.Fprintln(w, "Targets:")
		fmt.Fprintln(w, strings.Join(lines, "\n"))
	}
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

// machine names the CPU, the cores, the kernel, Go and nginx.
func machine(ngx *server) string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if name, ok := strings.CutPrefix(line, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(name), ":"))
				break
			}
		}
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	s := fmt.Sprintf("%s, %d cores, %s %s %s, %s", cpu, runtime.NumCPU(), runtime.GOOS, strings.TrimSpace(string(kernel)),
		runtime.GOARCH, runtime.Version())
	if ngx != nil {
		out, _ := exec.Command(ngx.cmd.Path, "-v").CombinedOutput()
		s += ", " + strings.TrimPrefix(strings.TrimSpace(string(out)), "nginx version: ")
	}
	return s
}

func duration(d time.Duration) string {
	switch {
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%d µs", d.Microseconds())
	default:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	}
}

func signed(d time.Duration) string {
	if d < 0 {
		return "−" + duration(-d)
	}
	return "+" + duration(d)
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

// thousands formats a rate with thousands separators.
func thousands(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
