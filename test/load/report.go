package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
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

// report prints each run's table and, after several runs, each
// scenario's median and range; the targets are judged on the medians.
func report(w io.Writer, o options, runs [][]row, ngx *server) {
	fmt.Fprintf(w, "Machine: %s\n", machine(ngx))
	fmt.Fprintf(w, "Command: %s\n", strings.TrimSpace("go run ./test/load "+strings.Join(os.Args[1:], " ")))
	fmt.Fprintf(w, "Each scenario: %s warm-up, then %s measured at %d connections; load generator on the same machine.\n\n",
		o.warmup, o.duration, o.conns)
	for i, rows := range runs {
		if len(runs) > 1 {
			fmt.Fprintf(w, "Run %d of %d:\n\n", i+1, len(runs))
		}
		table(w, rows)
		otherLoad(w, o, rows)
	}
	sums := summarize(runs)
	if len(runs) > 1 {
		medians(w, sums, len(runs))
	}
	targets(w, sums, len(runs))
}

// table prints one run.
func table(w io.Writer, rows []row) {
	fmt.Fprintln(w, "| Scenario | Through | req/s | × direct | p50 | p50 − direct | p99 | Errors | Peak RSS | Server CPU/req | Load CPU/req |")
	fmt.Fprintln(w, "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
	for _, r := range rows {
		if r.skipped {
			fmt.Fprintf(w, "| %s | %s | skipped: not installed | | | | | | | | |\n", r.name, r.through)
			continue
		}
		ratio, added := "", ""
		if base := find(rows, r.compare); base != nil {
			ratio = times(r.res.PerSecond() / base.res.PerSecond())
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

// summary is one scenario over every run. Ratios and added latencies pair
// each run's row with its comparison row of the same run.
type summary struct {
	scenario
	rate, p99, serverCPU spread
	ratio, added         spread // empty without a comparison row
	perNginx             spread // the rate over nginx's, for the targets
	errors               uint64
}

// spread is the median, lowest and highest of some runs' values.
type spread struct {
	n              int
	median, lo, hi float64
}

func spreadOf(values []float64) spread {
	if len(values) == 0 {
		return spread{}
	}
	v := slices.Sorted(slices.Values(values))
	mid := len(v) / 2
	median := v[mid]
	if len(v)%2 == 0 {
		median = (v[mid-1] + v[mid]) / 2
	}
	return spread{n: len(v), median: median, lo: v[0], hi: v[len(v)-1]}
}

// format writes the median and, when the runs differ, the range.
func (s spread) format(f func(float64) string) string {
	if s.n == 0 {
		return ""
	}
	lo, hi := f(s.lo), f(s.hi)
	if lo == hi {
		return f(s.median)
	}
	return fmt.Sprintf("%s (%s – %s)", f(s.median), lo, hi)
}

func summarize(runs [][]row) []summary {
	if len(runs) == 0 {
		return nil
	}
	var sums []summary
	for _, first := range runs[0] {
		if first.skipped {
			continue
		}
		var rate, p99, cpu, ratio, added, perNginx []float64
		var errs uint64
		for _, rows := range runs {
			r, base, ngx := find(rows, first.name), find(rows, first.compare), find(rows, "get-nginx")
			if r == nil {
				continue
			}
			errs += r.res.Errors
			rate = append(rate, r.res.PerSecond())
			p99 = append(p99, float64(r.res.Latency.Quantile(0.99)))
			cpu = append(cpu, float64(r.serverCPU))
			if base != nil {
				ratio = append(ratio, r.res.PerSecond()/base.res.PerSecond())
				added = append(added, float64(r.res.Latency.Quantile(0.5)-base.res.Latency.Quantile(0.5)))
			}
			if ngx != nil {
				perNginx = append(perNginx, r.res.PerSecond()/ngx.res.PerSecond())
			}
		}
		sums = append(sums, summary{scenario: first.scenario, rate: spreadOf(rate), p99: spreadOf(p99), serverCPU: spreadOf(cpu),
			ratio: spreadOf(ratio), added: spreadOf(added), perNginx: spreadOf(perNginx), errors: errs})
	}
	return sums
}

// find is the measured row of that name, or nil.
func find(rows []row, name string) *row {
	for i := range rows {
		if rows[i].name == name && rows[i].res != nil {
			return &rows[i]
		}
	}
	return nil
}

func medians(w io.Writer, sums []summary, runs int) {
	fmt.Fprintf(w, "Medians (lowest – highest) over the %d runs:\n\n", runs)
	fmt.Fprintln(w, "| Scenario | Through | req/s | × direct | p50 − direct | p99 | Server CPU/req | Errors |")
	fmt.Fprintln(w, "|---|---|--:|--:|--:|--:|--:|--:|")
	for _, s := range sums {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %d |\n", s.name, s.through, s.rate.format(thousands),
			s.ratio.format(times), s.added.format(nanos(signed)), s.p99.format(nanos(duration)), s.serverCPU.format(nanos(duration)), s.errors)
	}
	fmt.Fprintln(w)
}

func targets(w io.Writer, sums []summary, runs int) {
	var lines []string
	for _, s := range sums {
		switch {
		case s.target == tokenTarget:
			rate, p99 := s.rate.median, time.Duration(s.p99.median)
			lines = append(lines, fmt.Sprintf("- %s: %s/s (target ≥ %s/s), p99 %s (target ≤ %s): %s", s.name, thousands(rate),
				thousands(minTokensPerSecond), duration(p99), duration(maxTokenP99), verdict(rate >= minTokensPerSecond && p99 <= maxTokenP99 && s.errors == 0)))
		case s.target == gatewayTarget && s.ratio.n > 0:
			ratio, added := s.ratio.median, time.Duration(s.added.median)
			line := fmt.Sprintf("- %s: %.2f× direct (target ≥ %.2f×), median %s (target ≤ +%s): %s", s.name, ratio, minGatewayRatio,
				signed(added), duration(maxGatewayAddedP50), verdict(ratio >= minGatewayRatio && added <= maxGatewayAddedP50 && s.errors == 0))
			if s.perNginx.n > 0 {
				line += fmt.Sprintf("; %.2f× nginx", s.perNginx.median)
			}
			lines = append(lines, line)
		}
	}
	if len(lines) == 0 {
		return
	}
	if runs > 1 {
		fmt.Fprintf(w, "Targets (medians of %d runs):\n", runs)
	} else {
		fmt.Fprintln(w, "Targets:")
	}
	fmt.Fprintln(w, strings.Join(lines, "\n"))
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

func times(ratio float64) string { return fmt.Sprintf("%.2f×", ratio) }

// nanos adapts a duration formatter to a spread's float64 nanoseconds.
func nanos(f func(time.Duration) string) func(float64) string {
	return func(ns float64) string { return f(time.Duration(ns)) }
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
