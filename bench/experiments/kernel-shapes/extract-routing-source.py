# Writes the fused routing module's CUDA source (the C# raw string FusedRoutingCudaSource.Source) to a .cu file, the
# way the C# compiler reads it: the lines between the opening and closing """, less the closing line's indentation.
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
m = re.search(r'public const string Source = """\n(.*?)\n( *)""";', text, re.S)
if not m:
    sys.exit("no Source raw string literal found")
indent = len(m.group(2))
lines = [l[indent:] if l.startswith(" " * indent) else l.lstrip(" ") for l in m.group(1).split("\n")]
open(sys.argv[2], "w", encoding="utf-8").write("\n".join(lines) + "\n")
