package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/signalr-entra/handler/settings"
)

// localSettingsReport says which local.settings.json was read, or where it
// was looked for, and what it set.
type localSettingsReport struct {
	// File is the file read, "" when none was found.
	File string `json:"file,omitempty"`
	// LookedFor lists where it was looked for, in order.
	LookedFor []string `json:"lookedFor"`
	// Count is how many settings it set that hold a value (the environment
	// wins), and Set lists them: the settings that matter.
	Count int      `json:"count"`
	Set   []string `json:"set,omitempty"`
	// Empty counts the settings it set to "" (the example's unused keys),
	// and Comments its "#" keys, which nothing reads.
	Empty    int `json:"empty"`
	Comments int `json:"comments"`
	// Unusable is true when File exists but could not be read.
	Unusable bool `json:"unusable,omitempty"`
}

// useLocalSettings copies a local.settings.json into the environment: the
// file named (which must exist), else the first found in the working
// directory, as `func start` reads it, or beside the executable, so that
// dist/handler run from the repository root reads dist/local.settings.json.
func useLocalSettings(named string) (*localSettingsReport, error) {
	r := &localSettingsReport{}
	if named != "" {
		abs, err := filepath.Abs(named)
		if err != nil {
			return r, err
		}
		r.LookedFor = []string{abs}
		if _, err := os.Stat(abs); errors.Is(err, fs.ErrNotExist) {
			return r, fmt.Errorf("%s does not exist", abs)
		}
		r.File = abs
	} else {
		dirs := []string{"."}
		if exe, err := os.Executable(); err == nil {
			dirs = append(dirs, filepath.Dir(exe))
		}
		r.File, r.LookedFor = settings.FindLocalSettings(dirs...)
	}
	if r.File == "" {
		return r, nil
	}
	values, err := settings.ReadLocalSettings(r.File)
	if err != nil {
		r.Unusable = true
		return r, err
	}
	for name := range values {
		if settings.IsComment(name) {
			r.Comments++
		}
	}
	names, err := settings.ApplyLocalSettings(r.File, values)
	if err != nil {
		r.Unusable = true
		return r, err
	}
	for _, n := range names {
		if os.Getenv(n) != "" {
			r.Set = append(r.Set, n)
		} else {
			r.Empty++
		}
	}
	sort.Strings(r.Set)
	r.Count = len(r.Set)
	return r, nil
}
