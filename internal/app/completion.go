package app

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

const bashCompletion = `# bash completion for iammap; load with: source <(iammap completion bash)
_iammap_complete() {
  local cur words
  cur="${COMP_WORDS[COMP_CWORD]}"
  words=("${COMP_WORDS[@]:0:COMP_CWORD}")
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$("${words[@]}" "$cur" --generate-bash-completion 2>/dev/null)" -- "$cur"))
  else
    COMPREPLY=($(compgen -W "$("${words[@]}" --generate-bash-completion 2>/dev/null)" -- "$cur"))
  fi
}
complete -o default -F _iammap_complete iammap
`

const zshCompletion = `#compdef iammap
# zsh completion for iammap; load with: source <(iammap completion zsh)
_iammap() {
  local -a opts
  opts=("${(@f)$(${words[@]:0:#words[@]-1} ${words[-1]} --generate-bash-completion 2>/dev/null)}")
  _describe 'values' opts
}
compdef _iammap iammap
`

// powershellCompletion asks iammap itself for the candidates, as the bash
// and zsh scripts do: urfave/cli prints them when the last argument is
// --generate-bash-completion (flags when the argument before it starts with
// a dash, else subcommands). PowerShell hands a native completer the whole
// command line; only the words before the one being completed are passed,
// unquoted, and the candidates are filtered by that word's prefix.
const powershellCompletion = `# powershell completion for iammap; load with: iammap completion powershell | Out-String | Invoke-Expression
# (add that line to $PROFILE to load it in every session)
Register-ArgumentCompleter -Native -CommandName 'iammap', 'iammap.exe' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)
    $words = @(foreach ($e in $commandAst.CommandElements) {
        if ($e.Extent.EndOffset -ge $cursorPosition) { break }
        if ($e -is [System.Management.Automation.Language.StringConstantExpressionAst]) { $e.Value } else { $e.Extent.Text }
    })
    $arguments = @($words | Select-Object -Skip 1)
    if ($wordToComplete.StartsWith('-')) { $arguments += $wordToComplete }
    $arguments += '--generate-bash-completion'
    $candidates = & $words[0] @arguments 2>$null
    foreach ($c in $candidates) {
        if ($c -and $c.StartsWith($wordToComplete, [System.StringComparison]::Ordinal)) {
            $type = if ($c.StartsWith('-')) { 'ParameterName' } else { 'ParameterValue' }
            [System.Management.Automation.CompletionResult]::new($c, $c, $type, $c)
        }
    }
}
`

func completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script (bash, zsh, fish or powershell)",
		ArgsUsage: "bash|zsh|fish|powershell",
		Action: func(c *cli.Context) error {
			switch shell := c.Args().First(); shell {
			case "bash":
				_, err := fmt.Fprint(c.App.Writer, bashCompletion)
				return err
			case "zsh":
				_, err := fmt.Fprint(c.App.Writer, zshCompletion)
				return err
			case "powershell":
				_, err := fmt.Fprint(c.App.Writer, powershellCompletion)
				return err
			case "fish":
				script, err := c.App.ToFishCompletion()
				if err != nil {
					return err
				}
				_, err = fmt.Fprint(c.App.Writer, script)
				return err
			default:
				return badFlags("unknown shell %q: use bash, zsh, fish or powershell", shell)
			}
		},
	}
}
