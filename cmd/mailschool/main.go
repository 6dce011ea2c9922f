// Command mailschool is the whole email learning platform in one binary:
// the web server and the administration commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/mailschool/mailschool/internal/config"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr))
}

// command is one subcommand of mailschool.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, app *app, args []string) error
}

var commands = []command{
	{"serve", "run the web server and the background workers", serve},
	{"migrate", "apply database migrations and exit", migrate},
	{"createsuperuser", "create a platform admin, or promote an existing user", createSuperuser},
	{"sendtest", "send a test email through the configured transport", sendTest},
	{"deliver", "send the course content that is due, once (for cron)", deliver},
	{"backup", "copy the SQLite database, live, to a new file", backup},
	{"restore", "put a backup in place of the SQLite database (server stopped)", restore},
	{"version", "print the version", printVersion},
}

// app is what every subcommand gets: the process's environment and streams.
type app struct {
	env    func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	logger *slog.Logger
}

// errUsage marks an error whose message is a usage problem: it is printed
// as it is, without a stack of context.
var errUsage = errors.New("usage")

func run(ctx context.Context, args []string, env func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	// Every command logs, so a bad level stops every command, before it
	// does anything.
	level, err := config.LogLevel(env("MAILSCHOOL_LOG_LEVEL"))
	if err != nil {
		fmt.Fprintf(stderr, "mailschool: %v\n", err)
		return 1
	}
	a := &app{env: env, stdin: stdin, stdout: stdout, stderr: stderr,
		logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))}
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	name := args[0]
	if name == "help" || name == "-h" || name == "--help" {
		if len(args) > 1 {
			// "mailschool help serve" is "mailschool serve -h".
			return run(ctx, []string{args[1], "-h"}, env, stdin, stdout, stderr)
		}
		usage(stdout)
		return 0
	}
	for _, c := range commands {
		if c.name != name {
			continue
		}
		err := c.run(ctx, a, args[1:])
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			return 2
		default:
			fmt.Fprintf(stderr, "mailschool %s: %v\n", name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "mailschool: unknown command %q\n\n", name)
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "mailschool: a self-hosted email learning platform.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Usage: mailschool <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-16s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "  %-16s %s\n", "help COMMAND", "show the flags of a command")
}

// newFlagSet returns a flag set that prints its usage to the app's output
// and reports errors instead of exiting.
func (a *app) newFlagSet(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(a.stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: mailschool %s\n\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags; a bad flag is a usage error (already printed).
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return errUsage
	}
	return nil
}

func versionString() string {
	if version != "" {
		return version
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return "dev"
}

func printVersion(_ context.Context, a *app, args []string) error {
	if err := parse(a.newFlagSet("version", "version"), args); err != nil {
		return err
	}
	fmt.Fprintln(a.stdout, "mailschool", versionString())
	return nil
}
