# test_xml.awk -- count the test cases in one JUnit-style test.xml.
#
# Reads gtest's XML (what a gtest binary writes to XML_OUTPUT_FILE) or the
# one-testcase XML Bazel's test-setup.sh writes when the test did not write
# its own. Prints one "FAIL <classname>.<name>" line per failed case and one
# "GOSKIP <classname>.<name>" line per case that skipped a check with Go's
# tools, then
#   COUNT <kind> <passed> <failed> <skipped> <go_skipped>
# where kind is "gtest" when the root element is gtest's
# <testsuites name="AllTests">, else "other".
#
# A case failed if it has a <failure> or <error> child; it was skipped if it
# says result="skipped", has a <skipped> child, or was not run at all
# (status="notrun": DISABLED_ tests). It skipped a Go check if it carries
# the property gentrace_go_check_skipped (tests/interop/go_tool.h), as
# <property name="gentrace_go_check_skipped" value="..."/> in <properties>
# (gtest 1.12) or as an attribute of <testcase> (older gtest). Such a case
# counts as failed (whether it passed, failed or was skipped otherwise) and
# is listed as a GOSKIP too. Text inside CDATA sections (test output,
# failure messages) is ignored, so a message that itself contains "<testcase"
# cannot be mistaken for markup. Attribute values are escaped by both writers,
# so a "<" outside CDATA always starts a tag.
#
# POSIX awk only (Debian's default awk is mawk); reads line by line, so large
# files cost linear time.

BEGIN {
  in_cdata = 0; open_case = 0; kind = "other"; p = 0; f = 0; s = 0; g = 0
  go_key = "gentrace_go_check_skipped"
}

# strip_cdata(line): line without the CDATA sections (which may span lines).
function strip_cdata(line,    out, i) {
  out = ""
  while (1) {
    if (in_cdata) {
      i = index(line, "]]>")
      if (i == 0) return out
      line = substr(line, i + 3)
      in_cdata = 0
    }
    i = index(line, "<![CDATA[")
    if (i == 0) return out line
    out = out substr(line, 1, i - 1)
    line = substr(line, i + 9)
    in_cdata = 1
  }
}

# attr(tag, key): the value of key="..." in tag, or "".
function attr(tag, key,    i, v) {
  i = index(tag, " " key "=\"")
  if (i == 0) return ""
  v = substr(tag, i + length(key) + 3)
  return substr(v, 1, index(v, "\"") - 1)
}

function finish_case() {
  if (case_go_skipped) {
    g++
    print "GOSKIP " case_name
  }
  if (case_failed || case_go_skipped) {
    # A case that left out a check with Go's tools is not a pass: the run
    # is only green with every check made (CI installs Go).
    f++
    print "FAIL " case_name
  } else if (case_skipped) {
    s++
  } else {
    p++
  }
  open_case = 0
}

{
  line = strip_cdata($0)
  while ((i = index(line, "<")) > 0) {
    line = substr(line, i)
    end = index(line, ">")
    tag = end ? substr(line, 1, end) : line
    if (tag ~ /^<testsuites[ >]/) {
      if (index(tag, " name=\"AllTests\"")) kind = "gtest"
    } else if (tag ~ /^<testcase[ >\/]/) {
      if (open_case) finish_case()
      open_case = 1
      case_failed = 0
      case_skipped = (index(tag, " result=\"skipped\"") || \
                      index(tag, " status=\"notrun\""))
      case_go_skipped = index(tag, " " go_key "=\"") > 0
      case_name = attr(tag, "name")
      if (attr(tag, "classname") != "")
        case_name = attr(tag, "classname") "." case_name
      if (tag ~ /\/>$/) finish_case()
    } else if (tag ~ /^<\/testcase>/) {
      if (open_case) finish_case()
    } else if (open_case && tag ~ /^<(failure|error)[ >\/]/) {
      case_failed = 1
    } else if (open_case && tag ~ /^<skipped[ >\/]/) {
      case_skipped = 1
    } else if (open_case && tag ~ /^<property[ >\/]/ && \
               attr(tag, "name") == go_key) {
      case_go_skipped = 1
    }
    line = substr(line, 2)
  }
}

END {
  if (open_case) finish_case()
  print "COUNT", kind, p, f, s, g
}
