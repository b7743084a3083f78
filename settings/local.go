package settings

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// LocalSettingsFile is the file `func start` reads app settings from.
const LocalSettingsFile = "local.settings.json"

// localSettings is the part of local.settings.json the handler reads.
type localSettings struct {
	IsEncrypted bool
	Values      map[string]string
}

// ReadLocalSettings returns the Values of a local.settings.json file.
func ReadLocalSettings(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var ls localSettings
	if err := json.Unmarshal(data, &ls); err != nil {
		return nil, fmt.Errorf("%s is not valid local.settings.json: %w. Values must be an object of strings, such as {\"Values\": {\"AzureSignalRConnectionString__serviceUri\": \"https://<resource>.service.signalr.net\"}}", path, err)
	}
	if ls.IsEncrypted {
		return nil, fmt.Errorf("%s is encrypted (IsEncrypted is true), and only the Functions host can decrypt it. Run `func settings decrypt` in its folder, or run under `func start`", path)
	}
	return ls.Values, nil
}

// FindLocalSettings returns the first local.settings.json found in dirs, in
// order, as an absolute path, and every path it looked at; path is "" when
// none exists. The handler looks in its working directory, as `func start`
// does, then beside its executable, so that dist/handler run from elsewhere
// finds dist/local.settings.json.
func FindLocalSettings(dirs ...string) (path string, looked []string) {
	seen := map[string]bool{}
	for _, dir := range dirs {
		p, err := filepath.Abs(filepath.Join(dir, LocalSettingsFile))
		if err != nil || seen[p] {
			continue
		}
		seen[p] = true
		looked = append(looked, p)
		if info, err := os.Stat(p); err == nil && !info.IsDir() {
			return p, looked
		}
	}
	return "", looked
}

// IsComment reports whether an app setting's name is a comment: the
// example local.settings.json documents settings under names starting
// with "#", which the handler skips.
func IsComment(name string) bool { return strings.HasPrefix(name, "#") }

// UseLocalSettings reads path, when it exists, and copies its Values into
// the process environment where no setting of the same name (in either
// spelling and any case) is set, as `func start` does: the environment
// wins, and AZURE_* values reach azidentity. Comment names (IsComment) are
// skipped. It returns the names it set.
func UseLocalSettings(path string) ([]string, error) {
	values, err := ReadLocalSettings(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return ApplyLocalSettings(path, values)
}

// ApplyLocalSettings is UseLocalSettings for the Values already read from
// path (ReadLocalSettings), which names the file in its errors.
func ApplyLocalSettings(path string, values map[string]string) ([]string, error) {
	env := newAppSettings(os.Environ())
	var set []string
	for name, value := range values {
		if IsComment(name) {
			continue
		}
		if _, ok := env.get(name); ok {
			continue
		}
		if err := os.Setenv(name, value); err != nil {
			return set, fmt.Errorf("%s: cannot set %s: %w", path, name, err)
		}
		set = append(set, name)
	}
	sort.Strings(set)
	return set, nil
}
