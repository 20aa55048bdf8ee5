#!/usr/bin/env python3
"""Registers claude-key-helper as Claude Code's apiKeyHelper in settings.json, and undoes it.

Called by install/install.sh and install/uninstall.sh; usable by hand. Python 3 stdlib only.

  claude-code-settings.py register --helper-command CMD [--ttl-ms N] [--config-dir DIR]
  claude-code-settings.py unregister [--config-dir DIR] [--remove-backups]
  claude-code-settings.py ttl-for --lifetime-seconds L [--refresh-before-expiry-seconds B]
                                                              (prints TTL_MS, or nothing)
  claude-code-settings.py path [--config-dir DIR]             (prints the settings.json path)
  common option: --manifest FILE (default: <state dir>/claude-code-settings.json)

Settings file: DIR/settings.json with --config-dir, else $CLAUDE_CONFIG_DIR/settings.json,
else ~/.claude/settings.json.

Guarantees:
- Refuses, with one line on stderr, exit 1, and WITHOUT writing anything (no backup, no
  manifest), when settings.json is not valid UTF-8 JSON, is not a JSON object, or has an
  "env" that is not an object where we need to change it. An empty file counts as {}.
- Only "apiKeyHelper" and (with --ttl-ms) "env"."CLAUDE_CODE_API_KEY_HELPER_TTL_MS" (a
  string, as every settings.json env value) change; every other key, and key order, is kept.
- Before changing an existing file it copies it to settings.json.bak-YYYYmmdd-HHMMSS (0600,
  beside settings.json). Nothing to change: nothing is written, no backup.
- Writes atomically: temp file in the target's directory, fsync, rename, fsync the dir. A
  new file is 0600; an existing file keeps its mode. A symlinked settings.json stays a
  symlink: the write goes to its target.
- The manifest records, per settings file, what register wrote and what was there before
  (value or absence), so unregister restores exactly that: keys it added are removed,
  values it replaced come back, and a value the user changed since is left alone (said so).
  Re-registering over our own value keeps the ORIGINAL previous value. register without
  --ttl-ms withdraws a TTL that an earlier register set (if still ours). When what
  unregister restores equals the pre-registration file, that file comes back byte for
  byte (its formatting too); a settings file that registration created is removed again.
- unregister --remove-backups (what uninstall.sh runs): once apiKeyHelper is restored (or
  already gone), the backups that register made (recorded in the manifest) are removed,
  each named, and unregister makes no backup of its own; any other settings.json.bak-* is
  left alone. When a value changed since registration is left alone, the backups stay too.
"""

import argparse
import copy
import datetime
import json
import os
import stat
import sys
import tempfile

PROG = "claude-code-settings"
TTL_ENV = "CLAUDE_CODE_API_KEY_HELPER_TTL_MS"
MANIFEST_VERSION = 1

# The TTL rule (see ttl_for_lifetime):
CLAUDE_DEFAULT_TTL_S = 300  # Claude Code caches the helper's output 5 minutes by default
HELPER_MARGIN_S = 15        # the helper hands out a credential only if it lives TTL + 15 s
MIN_TTL_MS = 5000           # below this Claude Code would rerun the helper on nearly every call


class Refusal(Exception):
    """A problem the user must fix; nothing has been written."""


def ttl_for_lifetime(lifetime_seconds, refresh_before_expiry_seconds=None):
    """The CLAUDE_CODE_API_KEY_HELPER_TTL_MS to set for credentials living L seconds, or None.

    The helper only hands out a credential that stays valid for Claude Code's TTL plus its
    15 s margin. The refresher refreshes a short-lived credential (lifetime L) by its
    half-life at the latest, so the record the helper finds has about L/2 or more left,
    and the TTL must fit in that: TTL + 15 s <= L/2. Hence:
      - L unknown or unbounded: the default TTL (300 s) is fine -> None;
      - L >= 2 * (300 + 15) = 630 s: L/2 >= TTL + margin with the default TTL -> None;
      - otherwise TTL = L/2 - 15 s, but at least 5 s (for L < 40 s nothing fits; 5 s keeps
        Claude Code from running the helper on every request, and the helper refreshes
        first when what it has is too short-lived).
    With the profile's refresh_before_expiry B known, the refresher replaces a credential
    when min(B, L/2) remains, so min(B, L/2) takes the place of L/2 above (with the
    default B = 600 s this is the same rule for every L).
    """
    if lifetime_seconds is None:
        return None
    left_ms = (lifetime_seconds * 1000) // 2
    if refresh_before_expiry_seconds is not None:
        left_ms = min(left_ms, refresh_before_expiry_seconds * 1000)
    if left_ms >= (CLAUDE_DEFAULT_TTL_S + HELPER_MARGIN_S) * 1000:
        return None
    return max(MIN_TTL_MS, left_ms - HELPER_MARGIN_S * 1000)


def env_nonempty(name):
    value = os.environ.get(name)
    return value if value else None


def home():
    h = env_nonempty("HOME") or os.path.expanduser("~")
    if not h or h == "~":
        raise Refusal("HOME is not set; pass --config-dir and --manifest")
    return h


def settings_path(config_dir):
    base = config_dir or env_nonempty("CLAUDE_CONFIG_DIR") or os.path.join(home(), ".claude")
    return os.path.abspath(os.path.join(os.path.expanduser(base), "settings.json"))


def state_dir():
    explicit = env_nonempty("CLAUDE_KEY_HELPER_STATE_DIR")
    if explicit:
        return explicit
    xdg = env_nonempty("XDG_STATE_HOME")
    if xdg:
        return os.path.join(xdg, "claude-key-helper")
    return os.path.join(home(), ".local", "state", "claude-key-helper")


def manifest_path(args):
    return os.path.abspath(args.manifest or os.path.join(state_dir(), "claude-code-settings.json"))


def fsync_dir(path):
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomic(target, data, mode):
    """Replace target (no symlink) by data: temp in the same dir, fsync, rename, fsync dir."""
    directory = os.path.dirname(target)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(target) + ".", suffix=".tmp",
                               dir=directory)
    try:
        os.fchmod(fd, mode)
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(tmp, target)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    fsync_dir(directory)


def serialize(obj):
    return (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def same(a, b):
    """Equal including key order (what a reader of the file would see)."""
    return json.dumps(a, ensure_ascii=False) == json.dumps(b, ensure_ascii=False)


def _reject_constant(name):
    raise ValueError("%s is not JSON" % name)


def load_json_object(path, what):
    """(object, raw bytes) or (None, None) when the file does not exist. Raises Refusal."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        return None, None
    except IsADirectoryError:
        raise Refusal("%s %s is a directory, not a file; nothing was changed" % (what, path))
    except OSError as e:
        raise Refusal("cannot read %s %s: %s; nothing was changed" % (what, path, e.strerror))
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Refusal("%s %s is not UTF-8 text; fix or move it, then run this again; "
                      "nothing was changed" % (what, path))
    if not text.strip():
        return {}, raw
    try:
        obj = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as e:
        raise Refusal("%s %s is not valid JSON (line %d column %d: %s); fix or move it, then "
                      "run this again; nothing was changed" % (what, path, e.lineno, e.colno, e.msg))
    except ValueError as e:
        raise Refusal("%s %s is not valid JSON (%s); fix or move it, then run this again; "
                      "nothing was changed" % (what, path, e))
    if not isinstance(obj, dict):
        kind = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"} \
            .get(type(obj), "a number")
        raise Refusal("%s %s holds %s, not a JSON object; fix or move it, then run this "
                      "again; nothing was changed" % (what, path, kind))
    return obj, raw


def load_manifest(path):
    obj, _ = load_json_object(path, "manifest")
    if obj is None:
        return {"version": MANIFEST_VERSION, "registrations": {}}
    if obj.get("version") != MANIFEST_VERSION or not isinstance(obj.get("registrations"), dict):
        raise Refusal("manifest %s has an unknown format; move it away to start over; "
                      "nothing was changed" % path)
    return obj


def save_manifest(path, manifest):
    if not manifest["registrations"]:
        try:
            os.unlink(path)
            fsync_dir(os.path.dirname(path))
        except FileNotFoundError:
            pass
        return
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    write_atomic(path, serialize(manifest), 0o600)


def write_backup(path, raw):
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = "%s.bak-%s" % (path, stamp)
    candidate, n = base, 1
    while True:
        try:
            fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            break
        except FileExistsError:
            n += 1
            candidate = "%s-%d" % (base, n)
    try:
        os.fchmod(fd, 0o600)
        view = memoryview(raw)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    return candidate


def write_target(path):
    """Where writes to path go: its symlink target, which must sit in an existing dir."""
    target = os.path.realpath(path)
    if not os.path.isdir(os.path.dirname(target)):
        raise Refusal("%s points to %s, whose directory does not exist; nothing was changed"
                      % (path, target))
    return target


def previous_of(obj, key):
    if isinstance(obj, dict) and key in obj:
        return {"present": True, "value": obj[key]}
    return {"present": False}


def restore(obj, key, previous):
    if previous.get("present"):
        obj[key] = previous["value"]
    else:
        obj.pop(key, None)


def rec_without_time(rec):
    return {k: v for k, v in (rec or {}).items() if k not in ("registered_at", "backups")}


def cmd_register(args):
    path = settings_path(args.config_dir)
    ttl = None
    if args.ttl_ms is not None:
        if args.ttl_ms <= 0:
            raise Refusal("--ttl-ms must be a positive number of milliseconds")
        ttl = str(args.ttl_ms)
    if not args.helper_command.strip() or "\n" in args.helper_command:
        raise Refusal("--helper-command must be one non-empty line")

    mpath = manifest_path(args)
    manifest = load_manifest(mpath)
    rec = manifest["registrations"].get(path)
    directory = os.path.dirname(path)
    dir_existed = os.path.isdir(directory) or os.path.islink(path)
    obj, raw = load_json_object(path, "settings file") if dir_existed else (None, None)
    existed = obj is not None
    current = obj if existed else {}
    new = copy.deepcopy(current)

    # apiKeyHelper: re-registering over our own value keeps the original previous value.
    ours = rec is not None and current.get("apiKeyHelper") == rec.get("helper_written") \
        and "apiKeyHelper" in current
    previous_helper = rec["previous_helper"] if ours else previous_of(current, "apiKeyHelper")
    new["apiKeyHelper"] = args.helper_command

    env = current.get("env")
    ttl_is_ours = (rec is not None and rec.get("ttl_written") is not None
                   and isinstance(env, dict) and env.get(TTL_ENV) == rec["ttl_written"])
    if ttl is not None:
        if env is not None and not isinstance(env, dict):
            raise Refusal("settings file %s has an \"env\" that is not an object; fix it, then "
                          "run this again; nothing was changed" % path)
        previous_ttl = rec["previous_ttl"] if ttl_is_ours else previous_of(env, TTL_ENV)
        created_env = rec["created_env"] if ttl_is_ours else "env" not in current
        new_env = new.get("env") if isinstance(new.get("env"), dict) else {}
        new_env[TTL_ENV] = ttl
        new["env"] = new_env
        ttl_written = ttl
    else:
        previous_ttl, created_env, ttl_written = None, False, None
        if ttl_is_ours:  # an earlier register set a TTL that is no longer wanted
            restore(new["env"], TTL_ENV, rec["previous_ttl"])
            if not new["env"] and rec.get("created_env"):
                del new["env"]

    created_file = (not existed and not os.path.islink(path)) or \
        bool(rec and rec.get("created_file") and existed)
    created_dir = not dir_existed or bool(rec and rec.get("created_dir"))
    new_rec = {
        "settings": path,
        "helper_written": args.helper_command,
        "previous_helper": previous_helper,
        "ttl_written": ttl_written,
        "previous_ttl": previous_ttl,
        "created_env": created_env,
        "created_file": created_file,
        "created_dir": created_dir,
    }
    changed = not existed or not same(new, current)
    if not changed and rec_without_time(rec) == rec_without_time(new_rec):
        print("%s: %s already has this apiKeyHelper%s; nothing changed"
              % (PROG, path, " and TTL" if ttl else ""))
        return 0

    target = write_target(path) if dir_existed else None
    if not dir_existed:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        target = path
    new_rec["registered_at"] = datetime.datetime.now(datetime.timezone.utc).isoformat(
        timespec="seconds")
    new_rec["backups"] = list((rec or {}).get("backups", []))
    backup = None
    if changed and existed:
        backup = write_backup(path, raw)
        new_rec["backups"].append(backup)
    # The manifest first: should the settings write fail, unregister still knows the past.
    manifest["registrations"][path] = new_rec
    save_manifest(mpath, manifest)
    if changed:
        mode = stat.S_IMODE(os.stat(target).st_mode) if existed else 0o600
        write_atomic(target, serialize(new), mode)
    what = "set apiKeyHelper" + (" and env.%s=%s" % (TTL_ENV, ttl) if ttl else "")
    if not changed:
        print("%s: %s already had this apiKeyHelper; recorded it" % (PROG, path))
    else:
        print("%s: %s in %s%s" % (PROG, what, path,
                                  " (backup: %s)" % backup if backup else " (new file)"))
    return 0


def original_bytes(rec, restored):
    """The pre-registration file, byte for byte, when restored says the same as it."""
    backups = rec.get("backups") or []
    if not backups:
        return None
    try:
        with open(backups[0], "rb") as f:
            raw = f.read()
        text = raw.decode("utf-8-sig")
        before = json.loads(text, parse_constant=_reject_constant) if text.strip() else {}
    except (OSError, ValueError):
        return None
    return raw if same(before, restored) else None


def cmd_unregister(args):
    path = settings_path(args.config_dir)
    mpath = manifest_path(args)
    manifest = load_manifest(mpath)
    rec = manifest["registrations"].get(path)
    if rec is None:
        print("%s: no registration recorded for %s; nothing to undo" % (PROG, path))
        return 0
    obj, raw = load_json_object(path, "settings file")
    if obj is None:
        print("%s: %s no longer exists; nothing to restore" % (PROG, path))
        del manifest["registrations"][path]
        save_manifest(mpath, manifest)
        return 0

    new = copy.deepcopy(obj)
    notes = []
    restored = True  # False: something of ours was changed since, so the backups stay
    if "apiKeyHelper" not in obj:
        notes.append("apiKeyHelper was already removed")
    elif obj["apiKeyHelper"] == rec["helper_written"]:
        restore(new, "apiKeyHelper", rec["previous_helper"])
        notes.append("restored the previous apiKeyHelper" if rec["previous_helper"]["present"]
                     else "removed apiKeyHelper")
    else:
        notes.append("apiKeyHelper was changed since registration; left it as it is")
        restored = False

    if rec.get("ttl_written") is not None:
        env = obj.get("env")
        if isinstance(env, dict) and env.get(TTL_ENV) == rec["ttl_written"]:
            restore(new["env"], TTL_ENV, rec["previous_ttl"])
            if not new["env"] and rec.get("created_env"):
                del new["env"]
            notes.append("restored the previous %s" % TTL_ENV if rec["previous_ttl"]["present"]
                         else "removed env.%s" % TTL_ENV)
        elif isinstance(env, dict) and TTL_ENV in env:
            notes.append("env.%s was changed since registration; left it as it is" % TTL_ENV)
            restored = False

    if not same(new, obj):
        target = write_target(path)
        if rec.get("created_file") and new == {} and not os.path.islink(path):
            os.unlink(path)  # it did not exist before registration and holds nothing else
            fsync_dir(os.path.dirname(path))
            notes.append("removed %s (registration had created it)" % path)
            if rec.get("created_dir"):
                try:
                    os.rmdir(os.path.dirname(path))
                except OSError:
                    pass
        else:
            if not (args.remove_backups and restored):
                notes.append("backup: %s" % write_backup(path, raw))
            write_atomic(target, original_bytes(rec, new) or serialize(new),
                         stat.S_IMODE(os.stat(target).st_mode))
    kept_backups = []
    if args.remove_backups and restored:
        for backup in our_backups(path, rec):
            try:
                os.unlink(backup)
                notes.append("removed the backup %s" % backup)
            except FileNotFoundError:
                pass
        fsync_dir(os.path.dirname(path))
    elif args.remove_backups:
        kept_backups = [b for b in our_backups(path, rec) if os.path.exists(b)]
        if kept_backups:
            notes.append("kept the backups %s (your changes since are in settings.json)"
                         % ", ".join(kept_backups))
    del manifest["registrations"][path]
    save_manifest(mpath, manifest)
    print("%s: unregistered from %s: %s" % (PROG, path, "; ".join(notes)))
    return 0


def our_backups(path, rec):
    """The backups register recorded for path: only files named path.bak-*, never others."""
    prefix = path + ".bak-"
    return [b for b in rec.get("backups") or []
            if isinstance(b, str) and b.startswith(prefix) and "/" not in b[len(prefix):]]


def parse_seconds(text, option):
    """None for null/unknown, else a positive whole number of seconds."""
    text = (text or "").strip().lower()
    if text in ("", "null", "none", "unknown"):
        return None
    try:
        value = int(text)
    except ValueError:
        raise Refusal("%s takes a whole number of seconds or null, not %r" % (option, text))
    if value < 0 or (value == 0 and option == "--lifetime-seconds"):
        raise Refusal("%s must be positive" % option)
    return value


def cmd_ttl_for(args):
    lifetime = parse_seconds(args.lifetime_seconds, "--lifetime-seconds")
    before = parse_seconds(args.refresh_before_expiry_seconds, "--refresh-before-expiry-seconds")
    ttl = ttl_for_lifetime(lifetime, before)
    if ttl is not None:
        print(ttl)
    return 0


def cmd_path(args):
    print(settings_path(args.config_dir))
    return 0


def main(argv):
    parser = argparse.ArgumentParser(prog="claude-code-settings.py",
                                     description="Register claude-key-helper in Claude Code's "
                                                 "settings.json (apiKeyHelper).")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p):
        p.add_argument("--config-dir", help="Claude Code's config dir (default: "
                       "$CLAUDE_CONFIG_DIR, else ~/.claude)")
        p.add_argument("--manifest", help="where registrations are recorded (default: "
                       "<state dir>/claude-code-settings.json)")

    p = sub.add_parser("register", help="set apiKeyHelper (and the TTL)")
    p.add_argument("--helper-command", required=True,
                   help='what Claude Code runs, e.g. "/home/me/.local/bin/claude-key-helper '
                        '--profile default"')
    p.add_argument("--ttl-ms", type=int, help="also set env.%s (milliseconds)" % TTL_ENV)
    common(p)
    p.set_defaults(func=cmd_register)

    p = sub.add_parser("unregister", help="undo what register did")
    p.add_argument("--remove-backups", action="store_true",
                   help="also remove the settings.json backups that register made")
    common(p)
    p.set_defaults(func=cmd_unregister)

    p = sub.add_parser("ttl-for", help="print the TTL_MS to set for a credential lifetime, "
                                       "or nothing when the default fits")
    p.add_argument("--lifetime-seconds", required=True, help="seconds, or null when unknown")
    p.add_argument("--refresh-before-expiry-seconds",
                   help="the profile's refresh_before_expiry, when known (default: ignore)")
    p.set_defaults(func=cmd_ttl_for)

    p = sub.add_parser("path", help="print the settings.json path used")
    common(p)
    p.set_defaults(func=cmd_path)

    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except Refusal as e:
        print("%s: %s" % (PROG, e), file=sys.stderr)
        return 1
    except OSError as e:
        print("%s: %s: %s" % (PROG, e.filename or "", e.strerror or e), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
