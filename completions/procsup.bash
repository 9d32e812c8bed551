# bash completion for procsup(1): commands, options, option values, and the names of the
# services of the running daemon (asked with `procsup status --json`; nothing is offered
# when no daemon answers within a second).

_procsup_services()
{
    local prog=$1
    shift
    # "name" occurs only as a service's own key in status --json.
    timeout 1 "$prog" "$@" --json status 2>/dev/null |
        grep -o '"name":"[^"]*"' | sed 's/^"name":"//; s/"$//'
}

# Sets COMPREPLY to the lines printed by "$@", once each (compgen -c repeats a command found
# in two PATH folders).
_procsup_reply()
{
    mapfile -t COMPREPLY < <("$@" | sort -u)
}

_procsup()
{
    local cur prev
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD - 1]}
    COMPREPLY=()

    local commands="daemon run check-config status health start stop restart reload signal
        logs events reopen-logs update shutdown version"
    local global_options="-c --config -s --socket --json -h --help"
    local signals="HUP INT QUIT KILL USR1 USR2 TERM CONT STOP TSTP WINCH"

    # Find the command, and keep -c/-s so that service names come from the right daemon.
    local i word command="" positionals=0 after_dashes=0
    local -a target=()
    for ((i = 1; i < COMP_CWORD; i++)); do
        word=${COMP_WORDS[i]}
        case $word in
        -c | --config | -s | --socket)
            target+=("$word" "${COMP_WORDS[i + 1]}")
            ((i++))
            ;;
        --)
            [[ $command == run ]] && after_dashes=1 && break
            ;;
        -n | --lines | --pidfile | --name | --restart | --stop-signal | --stop-timeout | \
            --start-seconds | --log | --log-max-size | --log-backups | --health-cmd | \
            --health-http | --health-tcp | --health-interval | --health-timeout | \
            --health-retries | --user | --env)
            ((i++))
            ;;
        -*) ;;
        *)
            if [[ -z $command ]]; then
                command=$word
            else
                ((positionals++))
            fi
            ;;
        esac
    done

    if ((after_dashes)); then
        # `procsup run [options] -- CMD ARG...`: complete CMD as a command, then files.
        if ((COMP_CWORD == i + 1)); then
            _procsup_reply compgen -c -- "$cur"
        else
            _procsup_reply compgen -f -- "$cur"
        fi
        return 0
    fi

    case $prev in
    -c | --config | -s | --socket | --pidfile | --log)
        compopt -o filenames 2>/dev/null
        _procsup_reply compgen -f -- "$cur"
        return 0
        ;;
    --restart)
        _procsup_reply compgen -W "always on-failure never" -- "$cur"
        return 0
        ;;
    --stop-signal)
        _procsup_reply compgen -W "$signals" -- "$cur"
        return 0
        ;;
    --user)
        _procsup_reply compgen -u -- "$cur"
        return 0
        ;;
    -n | --lines | --name | --stop-timeout | --start-seconds | --log-max-size | \
        --log-backups | --health-cmd | --health-http | --health-tcp | --health-interval | \
        --health-timeout | --health-retries | --env)
        return 0
        ;;
    esac

    if [[ -z $command ]]; then
        if [[ $cur == -* ]]; then
            _procsup_reply compgen -W "$global_options" -- "$cur"
        else
            _procsup_reply compgen -W "$commands" -- "$cur"
        fi
        return 0
    fi

    local options="" names=0
    case $command in
    daemon) options="--detach --pidfile" ;;
    run)
        options="--name --restart --stop-signal --stop-timeout --start-seconds --log
            --log-max-size --log-backups --pidfile --health-cmd --health-http --health-tcp
            --health-interval --health-timeout --health-retries --user --env --group --detach --"
        ;;
    status) names=1 ;;
    health) options="--all" names=1 ;;
    start | stop | restart | reload) options="--all --no-wait" names=1 ;;
    signal)
        options="--all"
        if ((positionals == 0)) && [[ $cur != -* ]]; then
            _procsup_reply compgen -W "$signals" -- "$cur"
            return 0
        fi
        names=1
        ;;
    logs)
        options="-f --follow -n --lines --stderr"
        ((positionals == 0)) && names=1
        ;;
    update) options="--dry-run" ;;
    shutdown) options="--no-wait" ;;
    esac

    if [[ $cur == -* ]]; then
        _procsup_reply compgen -W "$options $global_options" -- "$cur"
    elif ((names)); then
        _procsup_reply compgen -W "$(_procsup_services "${COMP_WORDS[0]}" "${target[@]}")" \
            -- "$cur"
    fi
    return 0
}

complete -F _procsup procsup
