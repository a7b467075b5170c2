package tickets

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"

	"linli/grid/replica"
	"linli/mqtt/contract"
)

// storedWish is a wish with the hub's time of arrival.
type storedWish struct {
	Wish   contract.Wish `json:"wish"`
	Posted time.Time     `json:"posted"`
	DoneAt time.Time     `json:"done_at,omitzero"`
}

func getWish(tx *bolt.Tx, id string) (*storedWish, error) {
	v := tx.Bucket(bucketWishes).Get([]byte(id))
	if v == nil {
		return nil, fmt.Errorf("%w: wish %q", ErrNotFound, id)
	}
	var w storedWish
	if err := json.Unmarshal(v, &w); err != nil {
		return nil, fmt.Errorf("tickets: read wish %s: %w", id, err)
	}
	return &w, nil
}

func putWish(tx *bolt.Tx, w *storedWish) error {
	b, err := json.Marshal(w)
	if err != nil {
		return fmt.Errorf("tickets: write wish %s: %w", w.Wish.ID, err)
	}
	return replica.Put(tx, bucketWishes, []byte(w.Wish.ID), b)
}

// PostWish records a resident's wish. It is idempotent by id: a resend
// returns the stored wish (with any claim) and created false. The wish's
// Location.Community is required: it decides the public list it joins.
func (s *Store) PostWish(w *contract.Wish) (out contract.Wish, created bool, err error) {
	if w == nil {
		return contract.Wish{}, false, fmt.Errorf("%w: nil wish", ErrInvalid)
	}
	if err := w.Validate(); err != nil {
		return contract.Wish{}, false, fmt.Errorf("tickets: post wish: %w", err)
	}
	if !contract.ValidID(w.Location.Community) {
		return contract.Wish{}, false, fmt.Errorf("%w: wish %s has no community", ErrInvalid, w.ID)
	}
	err = replica.Update(s.db, func(tx *bolt.Tx) error {
		old, err := getWish(tx, w.ID)
		if err == nil {
			out = old.Wish
			return s.announceWishes(tx, out.Location.Community) // as the resend may be after a lost publication
		}
		if !errors.Is(err, ErrNotFound) {
			return err // unreadable: not overwritten as if it were new
		}
		sw := storedWish{Wish: *w, Posted: s.opts.Clock()}
		// A posted wish is open, whatever the kiosk said.
		sw.Wish.ClaimedBy, sw.Wish.ClaimedAt, sw.Wish.Done = "", time.Time{}, false
		out, created = sw.Wish, true
		if err := putWish(tx, &sw); err != nil {
			return err
		}
		return s.announceWishes(tx, out.Location.Community)
	})
	return out, created, err
}

// ClaimWish records that volunteer by takes on the wish. Claiming again by
// the same name is a no-op; a wish claimed by someone else, or done, fails
// with ErrTransition.
func (s *Store) ClaimWish(id, by string) (contract.Wish, error) {
	if by == "" {
		return contract.Wish{}, fmt.Errorf("%w: claim of wish %s by nobody", ErrInvalid, id)
	}
	return s.updateWish(id, func(w *storedWish, now time.Time) error {
		switch {
		case w.Wish.Done:
			return fmt.Errorf("%w: wish %s is done", ErrTransition, id)
		case w.Wish.ClaimedBy == by:
			return nil
		case w.Wish.ClaimedBy != "":
			return fmt.Errorf("%w: wish %s is claimed by %s", ErrTransition, id, w.Wish.ClaimedBy)
		}
		w.Wish.ClaimedBy, w.Wish.ClaimedAt = by, now
		return nil
	})
}

// DoneWish records that the claimed wish was fulfilled. Done twice is a
// no-op; an unclaimed wish fails with ErrTransition.
func (s *Store) DoneWish(id string) (contract.Wish, error) {
	return s.updateWish(id, func(w *storedWish, now time.Time) error {
		switch {
		case w.Wish.Done:
			return nil
		case w.Wish.ClaimedBy == "":
			return fmt.Errorf("%w: wish %s is not claimed", ErrTransition, id)
		}
		w.Wish.Done, w.DoneAt = true, now
		return nil
	})
}

func (s *Store) updateWish(id string, fn func(w *storedWish, now time.Time) error) (contract.Wish, error) {
	var out contract.Wish
	err := replica.Update(s.db, func(tx *bolt.Tx) error {
		w, err := getWish(tx, id)
		if err != nil {
			return err
		}
		if err := fn(w, s.opts.Clock()); err != nil {
			return err
		}
		out = w.Wish
		if err := putWish(tx, w); err != nil {
			return err
		}
		return s.announceWishes(tx, out.Location.Community)
	})
	return out, err
}

// announceWishes queues community's public wish list through
// Options.PublishTx, if set.
func (s *Store) announceWishes(tx *bolt.Tx, community string) error {
	if s.opts.PublishTx == nil {
		return nil
	}
	ws, err := s.publicWishesTx(tx, community, s.opts.Clock())
	if err != nil {
		return err
	}
	return s.announce(tx, wishesPublication(ws))
}

// Wish returns the wish with id, or ErrNotFound.
func (s *Store) Wish(id string) (contract.Wish, error) {
	var w *storedWish
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		w, err = getWish(tx, id)
		return err
	})
	if err != nil {
		return contract.Wish{}, err
	}
	return w.Wish, nil
}

// Wishes returns the wishes of community ("" for all), oldest first: the
// open and claimed ones, and those done within Options.WishDoneKeep.
func (s *Store) Wishes(community string) ([]contract.Wish, error) {
	var out []contract.Wish
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		out, err = s.wishesTx(tx, community, s.opts.Clock())
		return err
	})
	return out, err
}

func (s *Store) wishesTx(tx *bolt.Tx, community string, now time.Time) ([]contract.Wish, error) {
	var ws []storedWish
	err := tx.Bucket(bucketWishes).ForEach(func(k, v []byte) error {
		var w storedWish
		if err := json.Unmarshal(v, &w); err != nil {
			return fmt.Errorf("tickets: read wish %s: %w", k, err)
		}
		if community != "" && w.Wish.Location.Community != community {
			return nil
		}
		if w.Wish.Done && now.Sub(w.DoneAt) > s.opts.WishDoneKeep {
			return nil
		}
		ws = append(ws, w)
		return nil
	})
	slices.SortStableFunc(ws, func(a, b storedWish) int { return a.Posted.Compare(b.Posted) })
	out := make([]contract.Wish, len(ws))
	for i, w := range ws {
		out[i] = w.Wish
	}
	return out, err
}

// PublicWishes returns the retained list of community's wishes: Wishes
// without the doors.
func (s *Store) PublicWishes(community string) (*contract.Wishes, error) {
	var out *contract.Wishes
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		out, err = s.publicWishesTx(tx, community, s.opts.Clock())
		return err
	})
	return out, err
}

func (s *Store) publicWishesTx(tx *bolt.Tx, community string, now time.Time) (*contract.Wishes, error) {
	ws, err := s.wishesTx(tx, community, now)
	if err != nil {
		return nil, err
	}
	for i := range ws {
		ws[i].Location.Door = ""
	}
	return &contract.Wishes{Community: community, Wishes: fitWishes(ws, publicBudget), Updated: now}, nil
}

// publicBudget bounds the encoded size of a retained list, well inside
// contract.MaxPayload, so that a busy community's list can always be
// published (a list that cannot be published would block every change).
const publicBudget = 48 << 10

// fitWishes keeps what residents most need to see within budget bytes of
// JSON: open wishes first, then claimed ones, then done ones, each newest
// first; the result stays in posting order.
func fitWishes(ws []contract.Wish, budget int) []contract.Wish {
	rank := func(w contract.Wish) int {
		switch {
		case w.Done:
			return 2
		case w.ClaimedBy != "":
			return 1
		}
		return 0
	}
	idx := make([]int, len(ws))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		if ra, rb := rank(ws[a]), rank(ws[b]); ra != rb {
			return ra - rb
		}
		return b - a // newer (posted later) first
	})
	keep := make([]bool, len(ws))
	used := 0
	for _, i := range idx {
		b, err := json.Marshal(ws[i])
		if err != nil || used+len(b)+1 > budget {
			continue
		}
		used += len(b) + 1
		keep[i] = true
	}
	out := ws[:0:0]
	for i, w := range ws {
		if keep[i] {
			out = append(out, w)
		}
	}
	return out
}

// PublishNotice adds n to community's notices (replacing one with the same
// ID), drops the expired ones and returns the list to publish, newest
// first. An empty ID is generated; a zero Published is set to now.
func (s *Store) PublishNotice(community string, n contract.Notice) (contract.Notices, error) {
	if !contract.ValidID(community) {
		return contract.Notices{}, fmt.Errorf("%w: community %q", ErrInvalid, community)
	}
	if n.Title == "" {
		return contract.Notices{}, fmt.Errorf("%w: notice without a title", ErrInvalid)
	}
	now := s.opts.Clock()
	if n.ID == "" {
		n.ID = "n" + strconv.FormatInt(now.UnixNano(), 36)
	}
	if n.Published.IsZero() {
		n.Published = now
	}
	if n.Level == "" {
		n.Level = "info"
	}
	var out contract.Notices
	err := replica.Update(s.db, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketNotices)
		cur := contract.Notices{Community: community}
		if v := b.Get([]byte(community)); v != nil {
			if err := json.Unmarshal(v, &cur); err != nil {
				return fmt.Errorf("tickets: read notices of %s: %w", community, err)
			}
		}
		list := []contract.Notice{n}
		for _, old := range cur.Notices {
			if old.ID != n.ID {
				list = append(list, old)
			}
		}
		list = slices.DeleteFunc(list, func(x contract.Notice) bool { return !x.Expires.IsZero() && !now.Before(x.Expires) })
		slices.SortStableFunc(list, func(a, b contract.Notice) int { return b.Published.Compare(a.Published) })
		// Newest first: the oldest notices give way when the list would not
		// fit in one retained message.
		used := 0
		for i, x := range list {
			b, _ := json.Marshal(x)
			if used += len(b) + 1; used > publicBudget {
				list = list[:i]
				break
			}
		}
		out = contract.Notices{Community: community, Notices: list, Updated: now}
		v, err := json.Marshal(out)
		if err != nil {
			return err
		}
		if err := replica.Put(tx, bucketNotices, []byte(community), v); err != nil {
			return err
		}
		return s.announce(tx, noticesPublication(out))
	})
	return out, err
}

// Notices returns community's notices that have not expired.
func (s *Store) Notices(community string) (contract.Notices, error) {
	now := s.opts.Clock()
	out := contract.Notices{Community: community}
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketNotices).Get([]byte(community))
		if v == nil {
			return nil
		}
		return json.Unmarshal(v, &out)
	})
	out.Notices = slices.DeleteFunc(out.Notices, func(x contract.Notice) bool { return !x.Expires.IsZero() && !now.Before(x.Expires) })
	return out, err
}
