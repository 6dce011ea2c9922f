package delivery_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/mailschool/mailschool/internal/store"
	"github.com/mailschool/mailschool/internal/store/storetest"
)

const (
	crashLearners = 200
	crashLessons  = 3
	// maxCrashes is how often a crash test crashes its worker, at most;
	// the worker after that runs until the work is done.
	maxCrashes = 15
	// crashBudget bounds a crash test; the work takes a few seconds.
	crashBudget = 60 * time.Second
)

// lifetime is how long a crash test's worker runs before it is crashed:
// a random moment, or until the work is done once it has crashed often
// enough.
func lifetime(rng *rand.Rand, crashes int, start time.Time) time.Duration {
	if crashes >= maxCrashes {
		return crashBudget - time.Since(start)
	}
	return time.Duration(10+rng.IntN(150)) * time.Millisecond
}

// crashSeed is the seed of the crash moments: MAILSCHOOL_CRASH_SEED to
// replay a logged run, else the clock.
func crashSeed(t *testing.T) uint64 {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("MAILSCHOOL_CRASH_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("MAILSCHOOL_CRASH_SEED: %v", err)
		}
	}
	t.Logf("crash moments from seed %d (MAILSCHOOL_CRASH_SEED=%d replays them)", seed, seed)
	return seed
}

// TestDeliveryCrashAndRestart enrolls learners in a course whose lessons
// are due one right after the other and works them with a node that is
// crashed at random moments and started afresh (new River client, mail
// service, SMTP transport and engine over the same database), until
// everything is done. Every (learner, lesson) must reach the SMTP server
// exactly once: the crashes cancel running jobs, so their transactions
// roll back and the send job records an SMTP exchange it finished.
func TestDeliveryCrashAndRestart(t *testing.T) {
	eachReopenable(t, func(t *testing.T, dsn string) {
		rng := rand.New(rand.NewPCG(crashSeed(t), 7))
		s := newSchool(t, dsn, crashLessons, crashLearners)
		sink, receipts := recordingSink(t)

		start := time.Now()
		crashes := 0
		for i := 1; ; i++ {
			n, err := startNode(context.Background(), fmt.Sprintf("node-%d", i), dsn, sink.URL())
			if err != nil {
				t.Fatal(err)
			}
			life := lifetime(rng, crashes, start)
			if s.waitDone(t, n.db, life) {
				n.stop(t)
				break
			}
			n.crash(t)
			if crashes == maxCrashes {
				t.Fatalf("not done after %v and %d crashes", crashBudget, crashes)
			}
			crashes++
			t.Logf("crash %d after %v: %d emails sent by then, pass handed %d due and %d stuck to jobs", crashes, life, len(receipts()), n.pass.Due, n.pass.Stuck)
		}
		elapsed := time.Since(start)

		got := s.check(t, receipts())
		if got.duplicates > 0 {
			t.Errorf("%d duplicate emails:\n%s", got.duplicates, got.duplicateList())
		}
		t.Logf("%d learners × %d lessons: %d crashes in %v, %d emails received, %d duplicates, %d missing",
			crashLearners, crashLessons, crashes, elapsed.Round(time.Millisecond), len(receipts()), got.duplicates, len(got.missing))
		if crashes == 0 {
			t.Error("the node never crashed: the test proved nothing")
		}
	})
}

// The killed-process variant: the worker is a child process (this test
// binary, running TestCrashWorkerProcess) killed with SIGKILL, which
// leaves no chance to cancel or record anything.
const (
	envWorkerDB   = "MAILSCHOOL_CRASH_WORKER_DB"
	envWorkerSMTP = "MAILSCHOOL_CRASH_WORKER_SMTP"
	workerStarted = "crash worker started"
	workerApp     = "mailschool-crash-worker" // the worker's PostgreSQL application_name
)

// TestCrashWorkerProcess is the worker of TestDeliveryKilledProcess; run
// directly it skips.
func TestCrashWorkerProcess(t *testing.T) {
	dsn := os.Getenv(envWorkerDB)
	if dsn == "" {
		t.Skip("the worker process of TestDeliveryKilledProcess")
	}
	n, err := startNode(context.Background(), fmt.Sprintf("worker-%d", os.Getpid()), dsn, os.Getenv(envWorkerSMTP))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println(workerStarted)
	// Killed long before this; the limit keeps a lost worker from
	// running on.
	time.Sleep(crashBudget)
	n.stop(t)
}

// TestDeliveryKilledProcess is TestDeliveryCrashAndRestart with real
// crashes: the worker is a process killed with SIGKILL at random moments.
// Nothing may be lost. A message can be sent twice only when the SMTP
// server accepted it and the process died before recording it as sent:
// every duplicate must be explained by a kill between its two receipts.
func TestDeliveryKilledProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts worker processes")
	}
	eachReopenable(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		rng := rand.New(rand.NewPCG(crashSeed(t), 11))
		s := newSchool(t, dsn, crashLessons, crashLearners)
		sink, receipts := recordingSink(t)
		observer, err := store.Open(ctx, dsn, "")
		if err != nil {
			t.Fatal(err)
		}
		defer observer.Close()
		if _, err := observer.NewJobs(&river.Config{}); err != nil { // to count jobs
			t.Fatal(err)
		}

		start := time.Now()
		var kills []time.Time
		for {
			worker := startWorkerProcess(t, dsn, sink.URL())
			life := lifetime(rng, len(kills), start)
			done := s.waitDone(t, observer, life)
			worker.Process.Kill() // SIGKILL
			worker.Wait()
			if done {
				break
			}
			if len(kills) == maxCrashes {
				t.Fatalf("not done after %v and %d kills", crashBudget, len(kills))
			}
			kills = append(kills, time.Now())
			t.Logf("kill %d after %v: %d emails received by then", len(kills), life, len(receipts()))
			rescueAfterKill(t, dsn)
		}
		elapsed := time.Since(start)

		got := s.check(t, receipts())
		// A duplicate is a send the server finished and the killed
		// process did not record: a kill must fall between each two
		// receipts of one message.
		for id, rs := range got.byMessageID {
			for i := 1; i < len(rs); i++ {
				explained := false
				for _, k := range kills {
					if k.After(rs[i-1].at) && k.Before(rs[i].at) {
						explained = true
					}
				}
				if !explained {
					t.Errorf("%s was received again at %s with no kill since %s", id, rs[i].at.Format(time.StampMicro), rs[i-1].at.Format(time.StampMicro))
				}
			}
		}
		t.Logf("%d learners × %d lessons: %d kills in %v, %d emails received, %d duplicates (each after a kill), %d missing",
			crashLearners, crashLessons, len(kills), elapsed.Round(time.Millisecond), len(receipts()), got.duplicates, len(got.missing))
		if got.duplicates > 0 {
			t.Logf("received twice:\n%s", got.duplicateList())
		}
		if len(kills) == 0 {
			t.Error("no worker was killed: the test proved nothing")
		}
	})
}

// startWorkerProcess starts this test binary as a worker on dsn and
// returns once it works.
func startWorkerProcess(t *testing.T, dsn, smtpURL string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashWorkerProcess$", "-test.count=1")
	if !strings.HasPrefix(dsn, "sqlite:") {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		q.Set("application_name", workerApp)
		u.RawQuery = q.Encode()
		dsn = u.String()
	}
	cmd.Env = append(os.Environ(), envWorkerDB+"="+dsn, envWorkerSMTP+"="+smtpURL)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	started := make(chan bool, 1)
	go func() {
		lines := bufio.NewScanner(stdout)
		for lines.Scan() {
			if lines.Text() == workerStarted {
				started <- true
			}
		}
		started <- false
	}()
	select {
	case ok := <-started:
		if ok {
			return cmd
		}
		cmd.Wait()
		t.Fatalf("the worker process ended before it started working: %s", stderr.String())
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("the worker process did not start within 20s: %s", stderr.String())
	}
	return nil
}

// rescueAfterKill does at once what happens in its own time after a
// node dies: PostgreSQL ends the dead process's sessions when it notices
// them gone (one waiting for a lock notices only when it gets it), a
// killed leader's term runs out (River's TTL, 15 s), and jobs it left
// running are rescued (after their timeout: a minute for deliveries, two
// for sends) to be tried again. The worker is dead, so nothing is really
// running.
func rescueAfterKill(t *testing.T, dsn string) {
	t.Helper()
	if !strings.HasPrefix(dsn, "sqlite:") {
		// The kernel released a dead process's SQLite locks already.
		execSQL(t, dsn, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '`+workerApp+`'`)
		storetest.Eventually(t, 10*time.Second, "the killed worker's sessions to end", func() bool {
			return countSQL(t, dsn, `SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = '`+workerApp+`'`) == 0
		})
	}
	execSQL(t, dsn, `DELETE FROM river_leader`, `UPDATE river_job SET state = 'available' WHERE state = 'running'`)
}
