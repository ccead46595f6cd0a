package dnslb

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/dnslb/dnslb/dnslb/config"
	"github.com/dnslb/dnslb/dnslb/geo"
)

// openGeo opens the GeoIP files of cfg, as serve does, and says what is
// wrong with them: a missing file by name, else what geo.Open says.
func openGeo(cfg *config.Config) error {
	var missing []string
	for _, f := range cfg.GeoIP.Files {
		if _, err := os.Stat(f); errors.Is(err, fs.ErrNotExist) {
			missing = append(missing, fmt.Sprintf("%s: geoip.files: file %s does not exist", cfg.At("geoip", "files"), f))
		}
	}
	if len(missing) > 0 {
		return errors.New(strings.Join(missing, "\n"))
	}
	if _, err := geo.OpenTree(cfg.GeoIP.Files, nil); err != nil {
		return fmt.Errorf("%s: geoip.files: %w", cfg.At("geoip", "files"), err)
	}
	return nil
}
