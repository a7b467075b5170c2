package ui_test

import (
	"image"
	"regexp"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	qrcode "github.com/skip2/go-qrcode"

	"linli/ui"
	"linli/ui/i18n"
	"linli/ui/uitest"
)

// TestTicketQROpensHubPage checks that the QR code a resident keeps after
// filing encodes the hub's public ticket page for the ticket's number when
// Options.TrackURL points there, and the old linli:ticket: form otherwise.
func TestTicketQROpensHubPage(t *testing.T) {
	for _, tt := range []struct{ trackURL, want string }{
		{"http://127.0.0.1:8080/t/%s", "http://127.0.0.1:8080/t/"},
		{"", "linli:ticket:"},
	} {
		t.Run(tt.want, func(t *testing.T) {
			newApp(t)
			w := test.NewWindow(nil)
			w.Resize(fyne.NewSize(1024, 600))
			clock := &uitest.Clock{}
			k := ui.New(w, uitest.Sample(), &ui.Options{Lang: i18n.ZH, Now: clock.Now, Zone: time.UTC, TrackURL: tt.trackURL})
			r := &rig{t: t, k: k, b: nil, clock: clock, w: w}
			r.tap("home.report", "水电维修", "3号楼", "2单元")
			r.digits("502")
			r.tap("app.next", "漏水", "app.next")
			r.digits("13800138000")
			r.tap("report.consent", "app.next", "report.submit")
			r.wantScreen(ui.ReportDone)
			num := regexp.MustCompile(`K01-\d{6}-\d{5}`).FindString(k.Texts())
			if num == "" {
				t.Fatalf("no ticket number on the screen:\n%s", k.Texts())
			}
			q, err := qrcode.New(tt.want+num, qrcode.Medium)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := k.QR(), q.Image(256); got == nil || !sameImage(got, want) {
				t.Errorf("the QR code does not encode %q", tt.want+num)
			}
		})
	}
}

func sameImage(a, b image.Image) bool {
	if a.Bounds() != b.Bounds() {
		return false
	}
	for y := a.Bounds().Min.Y; y < a.Bounds().Max.Y; y++ {
		for x := a.Bounds().Min.X; x < a.Bounds().Max.X; x++ {
			r1, g1, b1, _ := a.At(x, y).RGBA()
			r2, g2, b2, _ := b.At(x, y).RGBA()
			if r1 != r2 || g1 != g2 || b1 != b2 {
				return false
			}
		}
	}
	return true
}
