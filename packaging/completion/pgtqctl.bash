# bash completion for pgtqctl, pgtq's operator command line.
# Installed as share/bash-completion/completions/pgtqctl, which bash-completion loads the first
# time pgtqctl is completed; or source it from ~/.bashrc.
#
# The lists below are pgtqctl's --help output written out. tests/integration/test_ctl_completion.cpp
# compares them with it: a subcommand or option added to pgtqctl and not here fails that test.

_pgtqctl_commands="migrate schema-version push stats queues list retry cancel delete show update
pause resume workers top queue retention schedules schedule cron wait prune web"

# Options of pgtqctl itself, before the subcommand.
_pgtqctl_global_options="--help --version --dsn"

# Options that take no value: after any other option, the next word is its value.
_pgtqctl_flags="--help --version --json --all --dry-run --once --reset --pause --resume --delete"

# The options of each subcommand, as `pgtqctl SUBCOMMAND --help` lists them.
_pgtqctl_options() {
  case "$1" in
    migrate) echo "--help" ;;
    schema-version) echo "--help" ;;
    push) echo "--help --run-at --delay --priority --max-attempts --timeout --unique-key --unique-state --unique-period --on-conflict --fairness-key --tag --metadata --depends-on --on-parent-failure" ;;
    stats) echo "--help --queue --json" ;;
    queues) echo "--help --json" ;;
    list) echo "--help --queue --task --state --unique-key --fairness-key --tag --metadata --created-after --created-before --finished-after --finished-before --limit --json" ;;
    retry) echo "--help --all --queue --task --state --limit --dry-run --error --finished-after --finished-before" ;;
    cancel) echo "--help --all --queue --task --state --limit --dry-run --created-after --created-before" ;;
    delete) echo "--help --all --queue --task --state --limit --dry-run --created-after --created-before" ;;
    show) echo "--help --json" ;;
    update) echo "--help --args --priority --run-at --max-attempts --timeout" ;;
    pause) echo "--help" ;;
    resume) echo "--help" ;;
    workers) echo "--help --queue --json" ;;
    top) echo "--help --interval --once" ;;
    queue) echo "--help --global-concurrency --key-concurrency --key-weight --default-priority --default-max-attempts --default-timeout --rate-limit --reset --rate-period --key-rate-limit --key-rate-period" ;;
    retention) echo "--help --queue --state --keep" ;;
    schedules) echo "--help --json" ;;
    schedule) echo "--help --queue --task --args --cron --every --time-zone --catch-up --catch-up-within --priority --max-attempts --timeout --pause --resume --delete --count" ;;
    cron) echo "--help --time-zone --count" ;;
    wait) echo "--help --timeout" ;;
    prune) echo "--help --older-than" ;;
    web) echo "--help --listen --password-file --allowed-host --refresh --sample-interval" ;;
  esac
}

_pgtqctl() {
  local cur=${COMP_WORDS[COMP_CWORD]}
  local prev=""
  ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
  COMPREPLY=()

  # The subcommand: the first word that is neither an option nor --dsn's value.
  local command="" i
  for ((i = 1; i < COMP_CWORD; i++)); do
    case ${COMP_WORDS[i]} in
      --dsn) ((i++)) ;;
      -*) ;;
      *)
        command=${COMP_WORDS[i]}
        break
        ;;
    esac
  done

  # Values pgtqctl knows; any other option's value is the user's to type.
  case $prev in
    --state | --unique-state)
      # The states each subcommand takes, as its --help says.
      local states="pending queued scheduled running succeeded failed cancelled"
      case $prev:$command in
        --state:retry) states="failed cancelled" ;;
        --state:cancel) states="pending queued scheduled running" ;;
        --state:delete) states="pending queued scheduled succeeded failed cancelled" ;;
        --state:retention) states="succeeded failed cancelled" ;;
      esac
      mapfile -t COMPREPLY < <(compgen -W "$states" -- "$cur")
      return
      ;;
    --on-conflict)
      mapfile -t COMPREPLY < <(compgen -W "ignore replace raise" -- "$cur")
      return
      ;;
    --on-parent-failure)
      mapfile -t COMPREPLY < <(compgen -W "cancel run" -- "$cur")
      return
      ;;
    --catch-up)
      mapfile -t COMPREPLY < <(compgen -W "latest all none" -- "$cur")
      return
      ;;
    --keep)
      mapfile -t COMPREPLY < <(compgen -W "forever default" -- "$cur")
      return
      ;;
    --*)
      if [[ " $_pgtqctl_flags " != *" $prev "* ]]; then
        return
      fi
      ;;
  esac

  if [[ -z $command ]]; then
    if [[ $cur == -* ]]; then
      mapfile -t COMPREPLY < <(compgen -W "$_pgtqctl_global_options" -- "$cur")
    else
      mapfile -t COMPREPLY < <(compgen -W "$_pgtqctl_commands" -- "$cur")
    fi
  elif [[ $cur == -* ]]; then
    # --dsn may follow the subcommand too.
    mapfile -t COMPREPLY < <(compgen -W "$(_pgtqctl_options "$command") --dsn" -- "$cur")
  fi
}

complete -F _pgtqctl pgtqctl
