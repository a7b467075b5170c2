package kiosk

import (
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"linli/mqtt/contract"
)

// Prune forgets the tickets that ended (closed or duplicate) before
// before: their cached status and, for those filed here, the report and
// rating. The kiosk caches every ticket of its community, so cmd/kiosk should
// call it now and then (say daily, keeping 90 days). It returns how many
// tickets it forgot.
func (s *Service) Prune(before time.Time) (int, error) {
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		var gone [][]byte
		err := tx.Bucket(bucketTickets).ForEach(func(k, v []byte) error {
			var st contract.TicketStatus
			if err := json.Unmarshal(v, &st); err != nil {
				gone = append(gone, k) // unreadable: drop it too
				return nil
			}
			if st.Status != StatusClosed && st.Status != StatusDuplicate {
				return nil
			}
			var last time.Time
			if len(st.Timeline) > 0 {
				last = st.Timeline[len(st.Timeline)-1].At
			}
			if last.Before(before) {
				gone = append(gone, k)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range gone {
			for _, b := range [][]byte{bucketTickets, bucketReports, bucketRatings} {
				if err := tx.Bucket(b).Delete(k); err != nil {
					return err
				}
			}
		}
		n = len(gone)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("kiosk: prune: %w", err)
	}
	return n, nil
}
