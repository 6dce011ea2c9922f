// Command staffbench measures the cost of mailschool's staff pages side by
// side with a peer: it seeds a fresh SQLite install with one organization,
// its members and its courses, starts `mailschool serve` on it, logs in as
// the owner and runs wrk against the organization list, the organization
// page, the second page of its members and the member list API; then it
// starts the django-organizations peer (its run.sh) and runs wrk against its
// three pages. For each server it reads the CPU time the process (and its
// children) spent from /proc and prints one table: requests per second, CPU
// milliseconds per request, p50 and p99.
//
// It needs wrk, and for the peer its Debian packages (see the peer's
// README); it is not part of the test suite.
//
//	go run ./scripts/staffbench -peer /work/shared/bench/peer-django-orgs
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mailschool/mailschool/internal/auth"
	"github.com/mailschool/mailschool/internal/names"
	"github.com/mailschool/mailschool/internal/store"
)

const (
	ownerEmail    = "owner@example.test"
	ownerPassword = "bench-password-123"
	// clockTicks is the unit of utime and stime in /proc/<pid>/stat
	// (sysconf(_SC_CLK_TCK), 100 on Linux).
	clockTicks = 100
)

func main() {
	members := flag.Int("members", 100, "members of the organization, its owner included")
	courses := flag.Int("courses", 100, "public courses of the organization")
	duration := flag.Duration("d", 10*time.Second, "how long wrk runs against each page")
	connections := flag.Int("c", 32, "wrk's concurrent connections")
	bin := flag.String("bin", "", "mailschool binary to measure (empty: build ./cmd/mailschool)")
	port := flag.Int("port", 18080, "port of mailschool serve")
	peerDir := flag.String("peer", "", "directory of the django-organizations peer (empty: mailschool only)")
	peerPort := flag.Int("peer-port", 18000, "port of the peer")
	flag.StringVar(&dumpDir, "dump", "", "directory to save mailschool's measured pages in, to compare the output of two versions")
	flag.Parse()
	if err := run(*members, *courses, *duration, *connections, *bin, *port, *peerDir, *peerPort); err != nil {
		fmt.Fprintln(os.Stderr, "staffbench:", err)
		os.Exit(1)
	}
}

// dumpDir, when set, receives the body of each mailschool page measured.
var dumpDir string

// result is one page's row of the table.
type result struct {
	server, page  string
	requests      int64
	reqPerSec     float64
	cpuPerRequest time.Duration
	p50, p99      time.Duration
}

func run(members, courses int, duration time.Duration, connections int, bin string, port int, peerDir string, peerPort int) error {
	if _, err := exec.LookPath("wrk"); err != nil {
		return errors.New("wrk is not installed (apt-get install wrk)")
	}
	dir, err := os.MkdirTemp("", "staffbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if bin == "" {
		bin = filepath.Join(dir, "mailschool")
		build := exec.Command("go", "build", "-o", bin, "./cmd/mailschool")
		build.Stdout, build.Stderr = os.Stdout, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("build mailschool: %w", err)
		}
	}
	dataDir := filepath.Join(dir, "data")
	orgID, err := seed(dataDir, members, courses)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}

	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	logFile, err := os.Create(filepath.Join(dir, "serve.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	serve := exec.Command(bin, "serve")
	// Background jobs off: nothing is due, and the measure is of requests.
	serve.Env = append(os.Environ(), "MAILSCHOOL_DATA_DIR="+dataDir, "MAILSCHOOL_ADDR="+base[len("http://"):], "MAILSCHOOL_WORKERS=false")
	serve.Stdout, serve.Stderr = logFile, logFile
	if err := serve.Start(); err != nil {
		return fmt.Errorf("start mailschool serve: %w", err)
	}
	defer func() {
		serve.Process.Signal(syscall.SIGTERM)
		serve.Wait()
	}()
	cookie, err := login(base)
	if err != nil {
		return err
	}
	org := fmt.Sprintf("/email-learning/platform/organizations/%d/", orgID)
	pages := []struct{ name, path string }{
		{"organization list", "/email-learning/platform/organizations/"},
		{"organization page (members 1-50)", org},
		{"member list page (members 51-100)", org + "?page=2"},
		{fmt.Sprintf("member list API (%d members)", members), fmt.Sprintf("/api/v1/organizations/%d/members", orgID)},
		{fmt.Sprintf("public page, logged in (%d courses)", courses), fmt.Sprintf("/email-learning/public/organization/%d/", orgID)},
	}
	var results []result
	for i, p := range pages {
		if dumpDir != "" {
			if err := dump(base+p.path, "mailschool_session="+cookie, filepath.Join(dumpDir, fmt.Sprintf("page%d.html", i+1))); err != nil {
				return err
			}
		}
		r, err := measure(serve.Process.Pid, base+p.path, "mailschool_session="+cookie, duration, connections)
		if err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
		r.server, r.page = "mailschool", p.name
		results = append(results, r)
	}

	peakRSS := peakResidentSet(serve.Process.Pid)

	if peerDir != "" {
		peer, err := runPeer(peerDir, members, peerPort, duration, connections)
		if err != nil {
			return fmt.Errorf("peer: %w", err)
		}
		results = append(results, peer...)
	}
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("\n%d members, %d courses; wrk -t2 -c%d -d%s --latency; load average before the last run: %s\n",
		members, courses, connections, duration, strings.Join(strings.Fields(string(load))[:3], " "))
	fmt.Println("| server | page | req/s | CPU ms/request | p50 | p99 |")
	fmt.Println("|---|---|---|---|---|---|")
	for _, r := range results {
		fmt.Printf("| %s | %s | %.0f | %.3f | %s | %s |\n", r.server, r.page, r.reqPerSec,
			float64(r.cpuPerRequest.Microseconds())/1000, ms(r.p50), ms(r.p99))
	}
	fmt.Printf("\nmailschool's peak resident memory: %s\n", peakRSS)
	return nil
}

// peakResidentSet returns the largest resident memory of process pid so
// far (VmHWM in /proc/<pid>/status), as written there.
func peakResidentSet(pid int) string {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "unknown"
	}
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

// seed creates a migrated SQLite database in dataDir with an owner (who may
// log in), an organization with members-1 other members (viewers, editors
// and admins) and courses public courses. It returns the organization's id.
func seed(dataDir string, members, courses int) (int64, error) {
	ctx := context.Background()
	db, err := store.Open(ctx, "", dataDir)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	if err := db.Migrate(ctx, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		return 0, err
	}
	hash, err := auth.HashPassword(ctx, ownerPassword)
	if err != nil {
		return 0, err
	}
	var orgID int64
	err = db.InTx(ctx, func(q *store.Queries) error {
		const name = "Bench Academy"
		org, err := q.CreateOrganization(ctx, store.OrganizationFields{Name: name, NameKey: strings.ToLower(name), NameSkeleton: names.Key(name),
			Slug: "bench-academy", Description: "Courses by email, one lesson a day."})
		if err != nil {
			return err
		}
		orgID = org.ID
		owner, err := q.CreateUser(ctx, store.NewUser{Email: ownerEmail, Name: "Olivia Owner", PasswordHash: hash})
		if err != nil {
			return err
		}
		if err := q.AddMembership(ctx, org.ID, owner.ID, "owner"); err != nil {
			return err
		}
		roles := []string{"viewer", "editor", "admin"}
		for i := 1; i < members; i++ {
			u, err := q.CreateUser(ctx, store.NewUser{Email: fmt.Sprintf("member%03d@example.test", i), Name: fmt.Sprintf("Member %03d", i)})
			if err != nil {
				return err
			}
			if err := q.AddMembership(ctx, org.ID, u.ID, roles[i%len(roles)]); err != nil {
				return fmt.Errorf("add member %d: %w", i, err)
			}
		}
		for i := range courses {
			title := fmt.Sprintf("Course %03d", i)
			_, err := q.CreateCourse(ctx, store.NewCourse{OrganizationID: org.ID, Title: title, TitleKey: strings.ToLower(title), TitleSkeleton: names.Key(title),
				Slug: fmt.Sprintf("course-%03d", i), Description: "Learn something useful in ten short lessons.", Enabled: true, Public: true})
			if err != nil {
				return fmt.Errorf("add course %d: %w", i, err)
			}
		}
		return nil
	})
	return orgID, err
}

// login waits for the server to answer, logs in as the owner and returns
// the session cookie's value.
func login(base string) (string, error) {
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := client.Get(base + "/accounts/login/")
		if err == nil {
			res.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("mailschool did not answer: %w", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	res, err := client.PostForm(base+"/accounts/login/", url.Values{"email": {ownerEmail}, "password": {ownerPassword}})
	if err != nil {
		return "", fmt.Errorf("log in: %w", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		return "", fmt.Errorf("log in: status %d", res.StatusCode)
	}
	u, _ := url.Parse(base)
	for _, c := range jar.Cookies(u) {
		if c.Name == "mailschool_session" {
			return c.Value, nil
		}
	}
	return "", errors.New("log in: no session cookie")
}

// runPeer starts the peer with run.sh, measures its three pages and stops it.
func runPeer(dir string, members, port int, duration time.Duration, connections int) ([]result, error) {
	// The peer's members are others than its owner.
	var (
		out []byte
		pid int
		err error
	)
	// run.sh gives gunicorn two seconds to start, which a busy machine may
	// not: a failed start is stopped and tried again.
	for attempt := 1; ; attempt++ {
		out, pid, err = startPeer(dir, members, port)
		if err == nil {
			break
		}
		if pid != 0 {
			stopPeer(pid)
		}
		if attempt == 3 {
			return nil, err
		}
	}
	defer stopPeer(pid)
	org := regexp.MustCompile(`org=(\d+)`).FindSubmatch(out)
	if org == nil {
		return nil, fmt.Errorf("run.sh printed no org: %q", out)
	}
	jar, err := os.ReadFile("/tmp/peer.jar")
	if err != nil {
		return nil, err
	}
	var sid string
	for _, line := range strings.Split(string(jar), "\n") {
		if f := strings.Fields(line); len(f) == 7 && f[5] == "sessionid" {
			sid = f[6]
		}
	}
	if sid == "" {
		return nil, errors.New("the peer's login gave no session")
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	pages := []struct{ name, path string }{
		{"my organizations (/orgs/)", "/orgs/"},
		{"organization detail with members", "/orgs/" + string(org[1]) + "/"},
		{"member list (people)", "/orgs/" + string(org[1]) + "/people/"},
	}
	var results []result
	for _, p := range pages {
		r, err := measure(pid, base+p.path, "sessionid="+sid, duration, connections)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.name, err)
		}
		r.server, r.page = "django peer", p.name
		results = append(results, r)
	}
	return results, nil
}

// dump saves the body of url to file.
func dump(url, cookie, file string) error {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Cookie", cookie)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	return os.WriteFile(file, body, 0o644)
}

// startPeer runs the peer's run.sh and returns what it printed and the pid
// of gunicorn (0 if it wrote none).
func startPeer(dir string, members, port int) ([]byte, int, error) {
	os.Remove("/tmp/peer.pid")
	// gunicorn keeps run.sh's output open: read it from a file, not a pipe.
	outFile, err := os.CreateTemp("", "staffbench-peer-")
	if err != nil {
		return nil, 0, err
	}
	defer os.Remove(outFile.Name())
	defer outFile.Close()
	start := exec.Command("bash", filepath.Join(dir, "run.sh"), strconv.Itoa(members-1), strconv.Itoa(port))
	start.Stdout, start.Stderr = outFile, os.Stderr
	runErr := start.Run()
	var pid int
	if pidText, err := os.ReadFile("/tmp/peer.pid"); err == nil {
		pid, _ = strconv.Atoi(strings.TrimSpace(string(pidText)))
	}
	if runErr != nil {
		return nil, pid, fmt.Errorf("run.sh: %w", runErr)
	}
	if pid == 0 {
		return nil, 0, errors.New("run.sh wrote no pid")
	}
	out, err := os.ReadFile(outFile.Name())
	return out, pid, err
}

// stopPeer stops gunicorn and waits for it (and so its workers) to end,
// up to ten seconds.
func stopPeer(pid int) {
	syscall.Kill(pid, syscall.SIGTERM)
	for i := 0; i < 100 && syscall.Kill(pid, 0) == nil; i++ {
		time.Sleep(100 * time.Millisecond)
	}
}

// measure runs wrk against url and reads the CPU time pid and its
// children spent meanwhile.
func measure(pid int, url, cookie string, duration time.Duration, connections int) (result, error) {
	// A first request checks the page answers 200 with this cookie.
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Cookie", cookie)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return result{}, err
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return result{}, fmt.Errorf("GET %s: status %d", url, res.StatusCode)
	}
	before, err := cpuTime(pid)
	if err != nil {
		return result{}, err
	}
	wrk := exec.Command("wrk", "-t2", fmt.Sprintf("-c%d", connections), fmt.Sprintf("-d%ds", int(duration.Seconds())), "--latency",
		"-H", "Cookie: "+cookie, url)
	out, err := wrk.Output()
	if err != nil {
		return result{}, fmt.Errorf("wrk: %w", err)
	}
	after, err := cpuTime(pid)
	if err != nil {
		return result{}, err
	}
	r, err := parseWrk(string(out))
	if err != nil {
		return result{}, fmt.Errorf("%w in %q", err, out)
	}
	if r.requests > 0 {
		r.cpuPerRequest = (after - before) / time.Duration(r.requests)
	}
	return r, nil
}

var (
	wrkPercentile = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$`)
	wrkRequests   = regexp.MustCompile(`(?m)^\s+(\d+) requests in`)
	wrkRate       = regexp.MustCompile(`(?m)^Requests/sec:\s+([\d.]+)`)
)

func parseWrk(out string) (result, error) {
	var r result
	if strings.Contains(out, "Non-2xx or 3xx responses") {
		return r, errors.New("wrk had answers other than 2xx and 3xx")
	}
	m := wrkRequests.FindStringSubmatch(out)
	rate := wrkRate.FindStringSubmatch(out)
	if m == nil || rate == nil {
		return r, errors.New("no request count in wrk's output")
	}
	r.requests, _ = strconv.ParseInt(m[1], 10, 64)
	r.reqPerSec, _ = strconv.ParseFloat(rate[1], 64)
	for _, p := range wrkPercentile.FindAllStringSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(p[2], 64)
		unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[p[3]]
		d := time.Duration(v * float64(unit))
		if p[1] == "50" {
			r.p50 = d
		} else {
			r.p99 = d
		}
	}
	return r, nil
}

// cpuTime is the user and system time of pid and of its living children
// (gunicorn's workers), read from /proc.
func cpuTime(pid int) (time.Duration, error) {
	total, err := processTime(pid)
	if err != nil {
		return 0, err
	}
	children, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	for _, c := range strings.Fields(string(children)) {
		child, _ := strconv.Atoi(c)
		if t, err := processTime(child); err == nil {
			total += t
		}
	}
	return total, nil
}

func processTime(pid int) (time.Duration, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil && line == "" {
		return 0, err
	}
	// The command name, in parentheses, may hold spaces: count fields
	// after its closing parenthesis. utime and stime are fields 14 and 15.
	fields := strings.Fields(line[strings.LastIndexByte(line, ')')+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}
