package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/mailschool/mailschool/internal/config"
	"github.com/mailschool/mailschool/internal/store"
)

// backup copies the SQLite database, live, to a new file.
func backup(ctx context.Context, a *app, args []string) error {
	var (
		cfg config.Config
		to  string
	)
	fs := a.newFlagSet("backup", "backup --to FILE [flags]\n\n"+
		"Copies the SQLite database to FILE, a new SQLite database, while serve goes on\n"+
		"running: the copy is the database as it was at one moment, checked before it\n"+
		"takes its name. PostgreSQL installs use pg_dump instead.")
	fs.StringVar(&to, "to", "", "the file to write; it must not exist (required)")
	cfg.Register(fs, a.env)
	if err := parse(fs, args); err != nil {
		return err
	}
	if to == "" {
		fmt.Fprintln(a.stderr, "--to is required")
		fs.Usage()
		return errUsage
	}
	if err := cfg.Finish(); err != nil {
		return err
	}
	path, err := store.SQLitePath(cfg.DatabaseURL, cfg.DataDir)
	if err != nil {
		return err
	}
	// A backup reads the database as it is: it neither creates nor
	// migrates one.
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("no database to back up at %s: %w", path, err)
	}
	db, err := store.Open(ctx, cfg.DatabaseURL, cfg.DataDir)
	if err != nil {
		return err
	}
	defer db.Close()
	fmt.Fprintf(a.stdout, "Copying %s to %s…\n", path, to)
	start := time.Now()
	if err := db.Backup(ctx, to); err != nil {
		return err
	}
	info, err := os.Stat(to)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "Backed up to %s (%s) in %s; its integrity check passed.\n",
		to, byteSize(info.Size()), time.Since(start).Round(time.Millisecond))
	return nil
}

// restore puts a backup in place of the SQLite database.
func restore(ctx context.Context, a *app, args []string) error {
	var (
		cfg  config.Config
		from string
	)
	fs := a.newFlagSet("restore", "restore --from FILE [flags]\n\n"+
		"Replaces the SQLite database with the backup FILE (made by backup), with every\n"+
		"mailschool process stopped. FILE is checked first (integrity, and that it is a\n"+
		"mailschool database of this version or an earlier one, which is then migrated);\n"+
		"the database it replaces is kept beside it.")
	fs.StringVar(&from, "from", "", "the backup to restore (required)")
	cfg.Register(fs, a.env)
	if err := parse(fs, args); err != nil {
		return err
	}
	if from == "" {
		fmt.Fprintln(a.stderr, "--from is required")
		fs.Usage()
		return errUsage
	}
	if err := cfg.Finish(); err != nil {
		return err
	}
	path, err := store.SQLitePath(cfg.DatabaseURL, cfg.DataDir)
	if err != nil {
		return err
	}
	if cfg.DatabaseURL == "" {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return fmt.Errorf("create data directory: %w", err)
		}
	}
	fmt.Fprintf(a.stdout, "Checking %s…\n", from)
	kept, err := store.Restore(ctx, from, path, a.logger)
	if errors.Is(err, store.ErrInUse) {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err != nil {
		return err
	}
	db, err := openDatabase(ctx, a, cfg)
	if err != nil {
		return fmt.Errorf("the backup is in place at %s, but: %w", path, err)
	}
	defer db.Close()
	fmt.Fprintf(a.stdout, "Restored %s to %s.\n", from, path)
	if kept != "" {
		fmt.Fprintf(a.stdout, "The database it replaced is kept as %s; delete it once you no longer need it.\n", kept)
	}
	return nil
}

// byteSize is n bytes for people: "12.3 MB".
func byteSize(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}
