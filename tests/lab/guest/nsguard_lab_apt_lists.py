"""Lab guests only: shrink apt's lists of the distribution's archive to what the lab uses.

Every `apt` task opens apt's cache, and python-apt walks every package of the lists in
it: the whole of noble's universe or Debian's main is about 7 s of each apt task in a
software-emulated guest. The lab's guests install only what the `ready` layer fetched
(the roles' and the scenarios' packages with their dependencies) and what is installed,
so this keeps those packages' stanzas, with everything they depend on, pre-depend on,
recommend or need a provider of, byte for byte, and drops the rest and the translated
descriptions. Run by tests/lab/lab.py in the `ready` layer, after the fetch; never part
of the collection. Usage: nsguard_lab_apt_lists.py LISTS_DIR DPKG_STATUS ARCHIVES_DIR [NAME ...]
"""
import os
import re
import sys

_FIELD = re.compile(r"^(Package|Provides|Depends|Pre-Depends|Recommends|Status):[ \t]*(.*(?:\n[ \t].*)*)",
                    re.MULTILINE)
_RELATIONS = ("Depends", "Pre-Depends", "Recommends")


def stanzas(text):
    """The paragraphs of a deb822 file as apt and dpkg write them (Packages, dpkg's status:
    one empty line between two), each with its own text."""
    return [p.strip("\n") for p in text.split("\n\n") if p.strip()]


def fields(stanza):
    return dict((m.group(1), m.group(2)) for m in _FIELD.finditer(stanza))


def package_name(stanza):
    # apt writes Package first; reading only that keeps a pass over 100 MB of lists short.
    if stanza.startswith("Package: "):
        return stanza[9:stanza.find("\n") if "\n" in stanza else None].strip()
    return fields(stanza).get("Package")


def names(relation):
    """Every package a relation field names, in any alternative, without versions or
    architecture qualifiers: `a (>= 1) | b:any, c` names a, b and c."""
    found = []
    for part in re.split(r"[,|]", relation):
        name = part.strip().split(" ", 1)[0].split("(", 1)[0].split(":", 1)[0].strip()
        if name:
            found.append(name)
    return found


def build_index(texts):
    """{"packages": name -> [stanza], "providers": virtual name -> [names]} of Packages texts."""
    packages, providers = {}, {}
    for text in texts:
        for stanza in stanzas(text):
            name = package_name(stanza)
            if not name:
                continue
            packages.setdefault(name, []).append(stanza)
            if "\nProvides:" in stanza:
                for virtual in names(fields(stanza).get("Provides", "")):
                    providers.setdefault(virtual, []).append(name)
    return {"packages": packages, "providers": providers}


def closure(index, seeds):
    """The names reachable from `seeds` over Depends, Pre-Depends and Recommends (every
    alternative), a virtual name bringing all its providers; `index` from build_index."""
    keep, todo = set(), list(seeds)
    while todo:
        name = todo.pop()
        if name in keep:
            continue
        keep.add(name)
        todo.extend(index["providers"].get(name, ()))
        for stanza in index["packages"].get(name, ()):
            entry = fields(stanza)
            for relation in _RELATIONS:
                todo.extend(names(entry.get(relation, "")))
    return keep


def installed(status_text):
    return set(f["Package"] for f in map(fields, stanzas(status_text))
               if "Package" in f and f.get("Status", "").endswith(" installed"))


def fetched(archives):
    """The package names of the .debs in apt's archive directory (name_version_arch.deb)."""
    return set(n.split("_", 1)[0] for n in os.listdir(archives) if n.endswith(".deb"))


def trimmed(text, keep):
    """`text` (a Packages file) with only the stanzas of packages in `keep`, as they were."""
    kept = [s for s in stanzas(text) if package_name(s) in keep]
    return "\n\n".join(kept) + "\n" if kept else ""


def main(lists, status, archives, extra):
    paths = sorted(os.path.join(lists, n) for n in os.listdir(lists) if n.endswith("_Packages"))
    texts = {}
    for path in paths:
        with open(path, encoding="utf-8") as f:
            texts[path] = f.read()
    with open(status, encoding="utf-8") as f:
        seeds = installed(f.read())
    seeds |= fetched(archives) | set(extra)
    keep = closure(build_index(texts.values()), seeds)
    before = after = 0
    for path, text in texts.items():
        out = trimmed(text, keep)
        before, after = before + len(text), after + len(out)
        with open(path + ".new", "w", encoding="utf-8") as f:
            f.write(out)
        os.rename(path + ".new", path)
    for name in os.listdir(lists):
        if "_i18n_Translation-" in name:
            os.unlink(os.path.join(lists, name))
    print("apt lists: kept %d package names, %d of %d bytes of %d Packages files"
          % (len(keep), after, before, len(paths)))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:])
