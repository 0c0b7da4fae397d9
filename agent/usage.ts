/** `fieldkit-agent --help`: the commands main.ts dispatches, for people (kept beside main.ts so main stays about dispatch). */
export const usage = `usage: fieldkit-agent [--config <path>] <command> [options]

commands:
  run                          run the agent (journal, HTTP/MQTT ingest, retention, health, uplink)
  status [--json]              journal, custody, losses and health; says whether the daemon answers
  export [--after N] [--limit N] [--losses]
                               records after seq N as NDJSON on stdout (--losses: loss records)
  ingest [--file F] [--json]   append events from stdin or F (NDJSON; --json: one JSON event)
  rpc                          serve the fieldkit RPC on stdin/stdout
  backup-stream --class <config|state|data|secrets> [--path /abs]...
                               one backup class as a tar stream on stdout, manifest last
                               (exit 0 only once all of it is written)
  backup-probe --classes <c1,c2,…> [--path <class>=/abs]... --json
                               per class the change token of what it holds now, from file
                               metadata only (the laptop skips a class that did not change)
  backup-restore --class C [--keep /abs]... [--keep-config key]... [--expect-device ID]
  backup-restore --check-db /abs...
                               a class's tar (as backup-stream wrote it) from stdin, every file
                               checked against the manifest before any is replaced; or databases checked
  journal-replaces --journal <id> --through <seq> [--aside]
                               a replacement's new journal names the failed device's and its last
                               known seq (--aside: a journal of this spare with records is moved aside)
  version                      print versions as JSON

--config <path>  the config file (else $FIELDKIT_AGENT_CONFIG, else /etc/fieldkit-agent/config.json)
`;
