#compdef cstar

_cstar_completion() {
  eval $(env _TYPER_COMPLETE_ARGS="${words[1,$CURRENT]}" _CSTAR_COMPLETE=complete_zsh cstar)
}

if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
    _cstar_completion "$@"
else
    compdef _cstar_completion cstar
fi

