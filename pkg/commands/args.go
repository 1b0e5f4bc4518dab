package commands

import "fmt"

// dirArg returns the directory given as $1.
func dirArg(args []string, name string) (string, error) {
	if len(args) < 1 || args[0] == "" {
		return "", fmt.Errorf("usage: %s <directory>: the directory argument is missing", name)
	}
	return args[0], nil
}
