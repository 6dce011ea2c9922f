package delivery_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/riverqueue/river"

	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/store"
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
		sink, receipts := recordingSink(t, nil)

		start := time.Now()
		crashes := 0
		for i := 1; ; i++ {
			n, err := startNode(context.Background(), fmt.Sprintf("node-%d", i), dsn, sink.URL(), nodeTimes{})
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
// leaves no chance to cancel or record anything. Nothing is done for it
// after: the next worker waits for the dead leader's term to run out and
// rescues the jobs the dead ones left running, as serve does, with job
// timeouts and a rescue delay of seconds rather than minutes.
const (
	envWorkerDB   = "MAILSCHOOL_CRASH_WORKER_DB"
	envWorkerSMTP = "MAILSCHOOL_CRASH_WORKER_SMTP"
	workerStarted = "crash worker started"
	maxKills      = 6
	// recoveryBound is how soon after the last kill every email must
	// have arrived.
	recoveryBound = 5 * time.Minute
)

// killBudget bounds the killed-process test: after the last kill,
// River's leader term (15 s), rescue delay and rescue interval (30 s).
var killBudget = 3 * time.Minute

// killedTimes are the job timeouts and rescue delay of the killed
// workers: serve's, in seconds; serve's own with
// MAILSCHOOL_CRASH_SERVE_TIMES=true, for the figures in BENCHMARKS.md.
var killedTimes = nodeTimes{jobTimeout: 2 * time.Second, rescueAfter: 4 * time.Second}

func init() {
	if os.Getenv("MAILSCHOOL_CRASH_SERVE_TIMES") == "true" {
		killedTimes = nodeTimes{jobTimeout: time.Minute, rescueAfter: mail.RescueAfter}
		killBudget = 10 * time.Minute
	}
}

// TestCrashWorkerProcess is the worker of TestDeliveryKilledProcess; run
// directly it skips.
func TestCrashWorkerProcess(t *testing.T) {
	dsn := os.Getenv(envWorkerDB)
	if dsn == "" {
		t.Skip("the worker process of TestDeliveryKilledProcess")
	}
	n, err := startNode(context.Background(), fmt.Sprintf("worker-%d", os.Getpid()), dsn, os.Getenv(envWorkerSMTP), killedTimes)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println(workerStarted)
	// Killed long before this; the limit keeps a lost worker from
	// running on.
	time.Sleep(killBudget)
	n.stop(t)
}

// TestDeliveryKilledProcess is TestDeliveryCrashAndRestart with real
// crashes: the worker is a process killed with SIGKILL at random moments.
// Nothing may be lost, every learner gets the course in order, and all
// of it arrives within recoveryBound of the last kill. A message can be
// sent twice only when the SMTP server accepted it and the process died
// before recording it as sent: every duplicate must be explained by a
// kill between its two receipts.
func TestDeliveryKilledProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts worker processes")
	}
	eachReopenable(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		rng := rand.New(rand.NewPCG(crashSeed(t), 11))
		s := newSchool(t, dsn, crashLessons, crashLearners)
		sink, receipts := recordingSink(t, nil)
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
			// A PostgreSQL worker takes longer to get going: killed within
			// 50 ms, it would never send.
			life := time.Duration(50+rng.IntN(550)) * time.Millisecond
			if len(kills) == maxKills {
				life = killBudget - time.Since(start)
			}
			done := s.waitDone(t, observer, life)
			worker.Process.Kill() // SIGKILL
			worker.Wait()
			if done {
				break
			}
			if len(kills) == maxKills {
				t.Fatalf("not done %v after the last of %d kills", time.Since(kills[len(kills)-1]), len(kills))
			}
			kills = append(kills, time.Now())
			t.Logf("kill %d after %v: %d emails received by then", len(kills), life, len(receipts()))
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
		if len(kills) == 0 {
			t.Fatal("no worker was killed: the test proved nothing")
		}
		last := kills[len(kills)-1]
		var recovered time.Duration
		for _, r := range receipts() {
			recovered = max(recovered, r.at.Sub(last))
		}
		if recovered > recoveryBound {
			t.Errorf("the last email arrived %v after the last kill, want within %v", recovered, recoveryBound)
		}
		t.Logf("%d learners × %d lessons: %d kills in %v, last email %v after the last kill, %d emails received, %d duplicates (%.1f per kill), %d missing",
			crashLearners, crashLessons, len(kills), elapsed.Round(time.Millisecond), recovered.Round(time.Millisecond), len(receipts()),
			got.duplicates, float64(got.duplicates)/float64(len(kills)), len(got.missing))
		if got.duplicates > 0 {
			t.Logf("received twice:\n%s", got.duplicateList())
		}
	})
}

// TestDeliveryThroughRefusingServer: the SMTP server answers 421 to
// everything for a while, then takes everything. Every email arrives
// once, and every learner gets the course in order.
func TestDeliveryThroughRefusingServer(t *testing.T) {
	eachReopenable(t, func(t *testing.T, dsn string) {
		s := newSchool(t, dsn, crashLessons, crashLearners/4)
		outage := time.Now().Add(2 * time.Second)
		sink, receipts := recordingSink(t, func() error {
			if time.Now().Before(outage) {
				return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "service not available, closing"}
			}
			return nil
		})
		n, err := startNode(context.Background(), "node", dsn, sink.URL(), nodeTimes{})
		if err != nil {
			t.Fatal(err)
		}
		done := s.waitDone(t, n.db, time.Minute)
		n.stop(t)
		if !done {
			t.Fatal("not done a minute after the server came back")
		}
		got := s.check(t, receipts())
		if got.duplicates > 0 {
			t.Errorf("%d duplicate emails:\n%s", got.duplicates, got.duplicateList())
		}
	})
}

// startWorkerProcess starts this test binary as a worker on dsn and
// returns once it works.
func startWorkerProcess(t *testing.T, dsn, smtpURL string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashWorkerProcess$", "-test.count=1")
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
