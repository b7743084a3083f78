// Command zipapp zips a Functions app root for zip deployment, keeping each
// file's mode so that the handler executable stays executable on Linux. It
// leaves out the root's local.settings.json: local settings and secrets, which
// make build keeps in the app root and Azure never reads.
//
//	go run ./scripts/zipapp DIR OUT.zip
package main

import (
	"archive/zip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: zipapp DIR OUT.zip")
		os.Exit(2)
	}
	if err := zipDir(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "zipapp:", err)
		os.Exit(1)
	}
}

// localSettings is the file of local settings in an app root.
const localSettings = "local.settings.json"

// zipDir writes every regular file under dir but the root's
// local.settings.json to out, named relative to dir with forward slashes,
// with its Unix mode bits.
func zipDir(dir, out string) (err error) {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	zw := zip.NewWriter(f)
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return fmt.Errorf("%s is not a regular file; the app root must hold plain files only", path)
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil || rel == localSettings {
			return err
		}
		// FileInfoHeader records the mode in the Unix external attributes,
		// which zip deployment on Linux honours.
		hdr, err := zip.FileInfoHeader(info)
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		hdr.Method = zip.Deflate
		w, err := zw.CreateHeader(hdr)
		if err != nil {
			return err
		}
		src, err := os.Open(path)
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = io.Copy(w, src)
		return err
	})
	if err != nil {
		return err
	}
	return zw.Close()
}
