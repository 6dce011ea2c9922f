// Package pgtest gives tests a real PostgreSQL server.
//
// The PostgreSQL code path of the store must be tested against PostgreSQL
// itself, not a fake, and tests may not download anything (no containers,
// no embedded-postgres archives). So pgtest uses the server named by
// MAILSCHOOL_TEST_POSTGRES_URL, or else starts a throwaway cluster from the
// initdb and pg_ctl already installed on the machine.
//
// A test package shares one cluster between all its tests and stops it in
// TestMain:
//
//	func TestMain(m *testing.M) {
//		m.Run()
//		pgtest.Stop()
//	}
package pgtest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// EnvURL names the environment variable that points tests at an existing
// server instead of a throwaway cluster.
const EnvURL = "MAILSCHOOL_TEST_POSTGRES_URL"

// ErrUnavailable is wrapped by the error of Server when no initdb and pg_ctl
// are installed, so callers can skip rather than fail (see Required).
var ErrUnavailable = errors.New("postgresql is not installed (no initdb/pg_ctl on PATH or under /usr/lib/postgresql/*/bin)")

var (
	once     sync.Once
	startURL string
	startErr error

	mu      sync.Mutex
	running *cluster // nil when this process has no cluster to stop
)

// Server returns a connection URL (postgres://...; database "postgres", a
// superuser) for tests. MAILSCHOOL_TEST_POSTGRES_URL wins when set.
// Otherwise the first call starts a throwaway cluster; it is started once per
// process, and later calls return the same URL or the same error.
func Server() (string, error) {
	if u := os.Getenv(EnvURL); u != "" {
		return u, nil
	}
	once.Do(func() {
		c, err := start()
		if err != nil {
			startErr = fmt.Errorf("start postgres: %w", err)
			return
		}
		mu.Lock()
		running = c
		mu.Unlock()
		startURL = c.url
	})
	return startURL, startErr
}

// Stop stops and removes the throwaway cluster if this process started one.
// It is safe to call many times, and when no cluster was started.
func Stop() {
	mu.Lock()
	defer mu.Unlock()
	if running != nil {
		running.stop()
		running = nil
	}
}

// Required reports whether a missing PostgreSQL must fail tests rather than
// skip them: in CI (CI=true) a skipped suite would hide a broken setup.
func Required() bool {
	return os.Getenv("CI") == "true"
}

// cluster is a throwaway PostgreSQL cluster started by this process.
type cluster struct {
	pgCtl string
	dir   string // temp dir holding data, log and unix socket
	data  string
	cred  *syscall.Credential // nil unless we run as root
	url   string
}

func start() (*cluster, error) {
	initdb, pgCtl, err := findBinaries()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "mailschool-pg-*")
	if err != nil {
		return nil, err
	}
	c := &cluster{pgCtl: pgCtl, dir: dir, data: filepath.Join(dir, "data")}
	if err := c.init(initdb); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// A free port may be taken again before postgres binds it, so retry
	// with a fresh one.
	for attempt := 1; ; attempt++ {
		err = c.startServer()
		if err == nil {
			return c, nil
		}
		c.stopServer() // in case postgres came up after pg_ctl gave up
		if attempt == 3 {
			os.RemoveAll(dir)
			return nil, err
		}
	}
}

// init creates the cluster. initdb and postgres refuse to run as root, which
// tests do here and in CI, so then they run as an unprivileged user instead.
func (c *cluster) init(initdb string) error {
	if os.Geteuid() == 0 {
		cred, err := unprivileged()
		if err != nil {
			return err
		}
		if err := checkTraversable(filepath.Dir(c.dir), cred); err != nil {
			return err
		}
		if err := os.Chown(c.dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return err
		}
		c.cred = cred
	}
	// --no-sync and trust auth: the cluster is thrown away and only
	// reachable on loopback.
	return c.run(initdb, "-D", c.data, "-U", "postgres", "--auth=trust",
		"-E", "UTF8", "--locale=C", "--no-sync")
}

func (c *cluster) startServer() error {
	port, err := freePort()
	if err != nil {
		return err
	}
	// Durability is traded for speed; max_connections is raised because
	// parallel tests each open their own pools.
	opts := strings.Join([]string{
		"-c listen_addresses=127.0.0.1",
		"-p " + strconv.Itoa(port),
		"-c unix_socket_directories=" + c.dir,
		"-c fsync=off",
		"-c synchronous_commit=off",
		"-c full_page_writes=off",
		"-c max_connections=300",
		"-c shared_buffers=64MB",
	}, " ")
	logFile := filepath.Join(c.dir, "postgres.log")
	if err := c.run(c.pgCtl, "-D", c.data, "-l", logFile, "-w", "-t", "30", "-o", opts, "start"); err != nil {
		return fmt.Errorf("%w\nlog tail:\n%s", err, tail(logFile, 20))
	}
	c.url = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	return nil
}

func (c *cluster) stopServer() error {
	return c.run(c.pgCtl, "-D", c.data, "-m", "immediate", "-w", "stop")
}

func (c *cluster) stop() {
	c.stopServer()
	os.RemoveAll(c.dir)
}

// run runs a PostgreSQL tool as the cluster's user and returns its output
// only on failure, so passing tests stay quiet.
func (c *cluster) run(name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Dir = c.dir // the caller's working directory may be closed to the postgres user
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %w\n%s", filepath.Base(name), err, bytes.TrimSpace(out))
	}
	return nil
}

// findBinaries finds initdb and pg_ctl on PATH, else in the newest
// /usr/lib/postgresql/*/bin (Debian installs them only there). Both must
// come from the same installation.
func findBinaries() (initdb, pgCtl string, err error) {
	initdb, err1 := exec.LookPath("initdb")
	pgCtl, err2 := exec.LookPath("pg_ctl")
	if err1 == nil && err2 == nil {
		return initdb, pgCtl, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int {
		return slices.Compare(version(b), version(a)) // newest first
	})
	for _, dir := range dirs {
		initdb, pgCtl = filepath.Join(dir, "initdb"), filepath.Join(dir, "pg_ctl")
		if isExecutable(initdb) && isExecutable(pgCtl) {
			return initdb, pgCtl, nil
		}
	}
	return "", "", ErrUnavailable
}

// version parses the version in /usr/lib/postgresql/<version>/bin ("16",
// "9.6") so that 10 sorts above 9.6.
func version(binDir string) []int {
	var v []int
	for f := range strings.SplitSeq(filepath.Base(filepath.Dir(binDir)), ".") {
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil // not a version: sorts last
		}
		v = append(v, n)
	}
	return v
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// unprivileged returns the credentials of the user "postgres", or else
// "nobody".
func unprivileged() (*syscall.Credential, error) {
	var errs []error
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err := errors.Join(err1, err2); err != nil {
			errs = append(errs, fmt.Errorf("user %s: %w", name, err))
			continue
		}
		// No Groups: supplementary groups are dropped.
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
	}
	return nil, fmt.Errorf("running as root and no unprivileged user to run postgres as: %w", errors.Join(errs...))
}

// checkTraversable makes sure the unprivileged user can reach dir, so a
// TMPDIR under /root fails here with a clear message rather than inside
// initdb.
func checkTraversable(dir string, cred *syscall.Credential) error {
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		perm := fi.Mode().Perm()
		st, ok := fi.Sys().(*syscall.Stat_t)
		switch {
		case perm&0o001 != 0:
		case ok && st.Uid == cred.Uid && perm&0o100 != 0:
		case ok && st.Gid == cred.Gid && perm&0o010 != 0:
		default:
			return fmt.Errorf("uid %d cannot traverse %s to reach the temp dir; set TMPDIR to a directory it can reach, such as /tmp", cred.Uid, d)
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tail returns the last n lines of a file, for error messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
