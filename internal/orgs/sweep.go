package orgs

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"github.com/mailschool/mailschool/internal/mail"
	"github.com/mailschool/mailschool/internal/store"
)

// InvitationRetention is how long an accepted or revoked invitation is
// kept: its link says so rather than that it never existed. Open
// invitations stay, expired or not, for admins to resend or revoke.
const InvitationRetention = 30 * 24 * time.Hour

// SweepInvitations deletes the invitations accepted or revoked more than
// InvitationRetention ago and reports how many.
func (s *Service) SweepInvitations(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.InTx(ctx, func(q *store.Queries) error {
		var err error
		n, err = q.DeleteInvitationsEndedBefore(ctx, s.now().Add(-InvitationRetention))
		return err
	})
	return n, err
}

// InvitationSweepArgs is the daily job that sweeps old invitations.
type InvitationSweepArgs struct{}

// Kind names the job for River.
func (InvitationSweepArgs) Kind() string { return "invitation_sweep" }

// InsertOpts puts the job on the mail queue, which every working node works.
func (InvitationSweepArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: mail.Queue} }

// AddWorkers registers the organization service's job workers.
func (s *Service) AddWorkers(workers *river.Workers) {
	river.AddWorker(workers, &invitationSweepWorker{service: s})
	river.AddWorker(workers, &signupRequestWorker{service: s})
}

// PeriodicJobs sweeps old invitations daily, and when the job queue
// starts: a node restarted more often than daily would otherwise never.
func (s *Service) PeriodicJobs() []*river.PeriodicJob {
	return []*river.PeriodicJob{river.NewPeriodicJob(river.PeriodicInterval(24*time.Hour),
		func() (river.JobArgs, *river.InsertOpts) { return InvitationSweepArgs{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true})}
}

type invitationSweepWorker struct {
	river.WorkerDefaults[InvitationSweepArgs]
	service *Service
}

// Work sweeps old invitations, and the sign-ups never confirmed.
func (w *invitationSweepWorker) Work(ctx context.Context, _ *river.Job[InvitationSweepArgs]) error {
	if _, err := w.service.SweepInvitations(ctx); err != nil {
		return err
	}
	_, err := w.service.SweepSignups(ctx)
	return err
}

// SweepSignups deletes the sign-ups never confirmed whose link expired,
// with the password hash they hold, and reports how many.
func (s *Service) SweepSignups(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.InTx(ctx, func(q *store.Queries) error {
		var err error
		n, err = q.DeleteUnconfirmedSignupsExpiredBefore(ctx, s.now())
		return err
	})
	return n, err
}
