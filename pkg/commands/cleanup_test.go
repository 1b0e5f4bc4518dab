package commands

import (
	"errors"
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("a get that fails", func() {
	var dest string

	BeforeEach(func() {
		dest = filepath.Join(GinkgoT().TempDir(), "get")
	})

	// get creates what a get creates, then fails (or not).
	get := func(fail error) error {
		err := fail
		func() {
			defer cleanOnFailure(dest)(&err)
			Expect(os.MkdirAll(filepath.Join(dest, templatesDir, "ops"), directoryMode)).To(Succeed())
			for _, name := range []string{tarballFile, manifestFile, filepath.Join(templatesDir, "ops", "a.yml")} {
				Expect(os.WriteFile(filepath.Join(dest, name), []byte("x"), fileMode)).To(Succeed())
			}
		}()
		return err
	}

	names := func() []string {
		GinkgoHelper()
		entries, err := os.ReadDir(dest)
		Expect(err).NotTo(HaveOccurred())
		var out []string
		for _, e := range entries {
			out = append(out, e.Name())
		}
		return out
	}

	It("removes everything it created in a destination that was there, empty", func() {
		Expect(os.MkdirAll(dest, 0o755)).To(Succeed())
		Expect(get(errors.New("rendering production: boom"))).To(HaveOccurred())
		Expect(names()).To(BeEmpty())
	})

	It("removes the destination it created itself", func() {
		Expect(get(errors.New("boom"))).To(HaveOccurred())
		_, err := os.Stat(dest)
		Expect(os.IsNotExist(err)).To(BeTrue())
	})

	It("leaves alone what was in the destination before", func() {
		Expect(os.MkdirAll(dest, 0o755)).To(Succeed())
		Expect(os.WriteFile(filepath.Join(dest, "keep.txt"), []byte("mine"), 0o644)).To(Succeed())
		Expect(get(errors.New("boom"))).To(HaveOccurred())
		Expect(names()).To(Equal([]string{"keep.txt"}))
	})

	It("keeps everything when the get succeeds", func() {
		Expect(get(nil)).To(Succeed())
		Expect(names()).To(ConsistOf(tarballFile, manifestFile, templatesDir))
	})
})
