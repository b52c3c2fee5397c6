// SPDX-License-Identifier: MIT
// Checks that the WS_ERROR object behaves as Microsoft documents it (WsCreateError,
// WsFreeError, WsResetError, WsGet/SetErrorProperty, WsAdd/GetErrorString; spec
// section 8 and its "Observed on Windows" list), and that failing library calls
// fill a caller's error object while successful calls leave it alone.
#include "tests/support.h"

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

using namespace openwws::test;

namespace {


std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

ULONG string_count(WS_ERROR* e) {
  ULONG n = 0xDEADBEEF;
  REQUIRE(WsGetErrorProperty(e, WS_ERROR_PROPERTY_STRING_COUNT, &n, sizeof n) == S_OK);
  return n;
}

HRESULT add(WS_ERROR* e, const std::u16string& text) {
  WS_STRING s = ws(text);
  return WsAddErrorString(e, &s);
}

std::string string_at(WS_ERROR* e, ULONG index) {
  WS_STRING s{};
  REQUIRE(WsGetErrorString(e, index, &s) == S_OK);
  return str(s);
}

}  // namespace

TEST_SUITE("error") {

TEST_CASE_FIXTURE(fd_guard, "create_error_null_out_pointer_returns_invalidarg") {
  CHECK(WsCreateError(nullptr, 0, nullptr) == E_INVALIDARG);
}

TEST_CASE_FIXTURE(fd_guard, "create_error_fresh_object_has_documented_defaults") {
  WS_ERROR* e = nullptr;
  REQUIRE(WsCreateError(nullptr, 0, &e) == S_OK);
  REQUIRE(e != nullptr);
  ULONG count = 0xFFFF;
  CHECK(WsGetErrorProperty(e, WS_ERROR_PROPERTY_STRING_COUNT, &count, sizeof count) == S_OK);
  CHECK(count == 0);
  ULONG code = 0xFFFF;
  CHECK(WsGetErrorProperty(e, WS_ERROR_PROPERTY_ORIGINAL_ERROR_CODE, &code, sizeof code) == S_OK);
  CHECK(code == 0);
  LANGID langid = 0;
  CHECK(WsGetErrorProperty(e, WS_ERROR_PROPERTY_LANGID, &langid, sizeof langid) == S_OK);
  CHECK(langid != 0);
  WsFreeError(e);
}

TEST_CASE_FIXTURE(fd_guard, "create_error_with_langid_reads_it_back") {
  LANGID wanted = 0x0407;  // de-DE
  WS_ERROR_PROPERTY prop{WS_ERROR_PROPERTY_LANGID, &wanted, sizeof wanted};
  WS_ERROR* e = nullptr;
  REQUIRE(WsCreateError(&prop, 1, &e) == S_OK);
  LANGID got = 0;
  CHECK(WsGetErrorProperty(e, WS_ERROR_PROPERTY_LANGID, &got, sizeof got) == S_OK);
  CHECK(got == 0x0407);
  WsFreeError(e);
}

TEST_CASE_FIXTURE(fd_guard, "create_error_with_zero_langid_returns_invalidarg") {
  LANGID zero = 0;  // the LANGID page: must not be 0
  WS_ERROR_PROPERTY prop{WS_ERROR_PROPERTY_LANGID, &zero, sizeof zero};
  WS_ERROR* e = reinterpret_cast<WS_ERROR*>(0x1);
  CHECK(WsCreateError(&prop, 1, &e) == E_INVALIDARG);
  CHECK(e == reinterpret_cast<WS_ERROR*>(0x1));
}

TEST_CASE_FIXTURE(fd_guard, "create_error_with_string_count_returns_invalidarg") {
  ULONG count = 0;
  WS_ERROR_PROPERTY prop{WS_ERROR_PROPERTY_STRING_COUNT, &count, sizeof count};
  WS_ERROR* e = reinterpret_cast<WS_ERROR*>(0x1);
  CHECK(WsCreateError(&prop, 1, &e) == E_INVALIDARG);
  CHECK(e == reinterpret_cast<WS_ERROR*>(0x1));
}

TEST_CASE_FIXTURE(fd_guard, "create_error_with_original_error_code_returns_invalidarg") {
  ULONG code = 0;
  WS_ERROR_PROPERTY prop{WS_ERROR_PROPERTY_ORIGINAL_ERROR_CODE, &code, sizeof code};
  WS_ERROR* e = reinterpret_cast<WS_ERROR*>(0x1);
  CHECK(WsCreateError(&prop, 1, &e) == E_INVALIDARG);
  CHECK(e == reinterpret_cast<WS_ERROR*>(0x1));
}

TEST_CASE_FIXTURE(fd_guard, "create_error_with_unknown_property_id_returns_invalidarg") {
  ULONG value = 0;
  WS_ERROR_PROPERTY prop{static_cast<WS_ERROR_PROPERTY_ID>(3), &value, sizeof value};
  WS_ERROR* e = reinterpret_cast<WS_ERROR*>(0x1);
  CHECK(WsCreateError(&prop, 1, &e) == E_INVALIDARG);
  CHECK(e == reinterpret_cast<WS_ERROR*>(0x1));
}

TEST_CASE_FIXTURE(fd_guard, "set_error_property_string_count_returns_invalidarg") {
  error_object err;
  ULONG count = 5;
  CHECK(WsSetErrorProperty(err, WS_ERROR_PROPERTY_STRING_COUNT, &count, sizeof count) == E_INVALIDARG);
  CHECK(string_count(err) == 0);
}

TEST_CASE_FIXTURE(fd_guard, "set_error_property_original_error_code_reads_it_back") {
  error_object err;
  ULONG code = 0x80072740;  // HRESULT_FROM_WIN32(WSAEADDRINUSE)
  CHECK(WsSetErrorProperty(err, WS_ERROR_PROPERTY_ORIGINAL_ERROR_CODE, &code, sizeof code) == S_OK);
  ULONG got = 0;
  CHECK(WsGetErrorProperty(err, WS_ERROR_PROPERTY_ORIGINAL_ERROR_CODE, &got, sizeof got) == S_OK);
  CHECK(got == 0x80072740);
}

TEST_CASE_FIXTURE(fd_guard, "set_error_property_original_error_code_counts_as_last_string") {
  error_object err;
  REQUIRE(add(err, u"first") == S_OK);
  REQUIRE(add(err, u"second") == S_OK);
  ULONG code = 0x80072740;
  REQUIRE(WsSetErrorProperty(err, WS_ERROR_PROPERTY_ORIGINAL_ERROR_CODE, &code, sizeof code) == S_OK);
  CHECK(string_count(err) == 3);
  CHECK(string_at(err, 0) == "second");
  CHECK(string_at(err, 1) == "first");
  std::string last = string_at(err, 2);
  CHECK(!last.empty());
  CHECK(last != "first");
  CHECK(last != "second");
  // A string added afterwards goes to the front; the original code stays last.
  REQUIRE(add(err, u"third") == S_OK);
  CHECK(string_count(err) == 4);
  CHECK(string_at(err, 0) == "third");
  CHECK(string_at(err, 3) == last);
}

TEST_CASE_FIXTURE(fd_guard, "set_error_property_langid_after_create_returns_invalid_operation") {
  error_object err;
  LANGID before = 0;
  REQUIRE(WsGetErrorProperty(err, WS_ERROR_PROPERTY_LANGID, &before, sizeof before) == S_OK);
  LANGID other = before == 0x0407 ? 0x0409 : 0x0407;
  CHECK(WsSetErrorProperty(err, WS_ERROR_PROPERTY_LANGID, &other, sizeof other) == WS_E_INVALID_OPERATION);
  LANGID after = 0;
  REQUIRE(WsGetErrorProperty(err, WS_ERROR_PROPERTY_LANGID, &after, sizeof after) == S_OK);
  CHECK(after == before);
}

TEST_CASE_FIXTURE(fd_guard, "set_error_property_langid_after_reset_succeeds") {
  error_object err;
  REQUIRE(WsResetError(err) == S_OK);
  LANGID wanted = 0x040C;  // fr-FR
  CHECK(WsSetErrorProperty(err, WS_ERROR_PROPERTY_LANGID, &wanted, sizeof wanted) == S_OK);
  LANGID got = 0;
  REQUIRE(WsGetErrorProperty(err, WS_ERROR_PROPERTY_LANGID, &got, sizeof got) == S_OK);
  CHECK(got == 0x040C);
}

TEST_CASE_FIXTURE(fd_guard, "get_error_property_unknown_id_returns_invalidarg_and_leaves_buffer") {
  error_object err;
  ULONG buffer = 0xDEADBEEF;
  CHECK(WsGetErrorProperty(err, static_cast<WS_ERROR_PROPERTY_ID>(3), &buffer, sizeof buffer) == E_INVALIDARG);
  CHECK(buffer == 0xDEADBEEF);
}

TEST_CASE_FIXTURE(fd_guard, "get_error_property_buffer_too_small_returns_invalidarg") {
  error_object err;
  unsigned char buffer[4] = {0xAA, 0xAA, 0xAA, 0xAA};
  CHECK(WsGetErrorProperty(err, WS_ERROR_PROPERTY_STRING_COUNT, buffer, 2) == E_INVALIDARG);
  CHECK(WsGetErrorProperty(err, WS_ERROR_PROPERTY_ORIGINAL_ERROR_CODE, buffer, 3) == E_INVALIDARG);
  CHECK(WsGetErrorProperty(err, WS_ERROR_PROPERTY_LANGID, buffer, 1) == E_INVALIDARG);
  CHECK(WsGetErrorProperty(err, WS_ERROR_PROPERTY_STRING_COUNT, buffer, 0) == E_INVALIDARG);
  for (unsigned char b : buffer) CHECK(b == 0xAA);
}

TEST_CASE_FIXTURE(fd_guard, "set_error_property_wrong_size_returns_invalidarg") {
  error_object err;
  ULONG code = 0x80072740;
  CHECK(WsSetErrorProperty(err, WS_ERROR_PROPERTY_ORIGINAL_ERROR_CODE, &code, 2) == E_INVALIDARG);
  ULONG got = 1;
  REQUIRE(WsGetErrorProperty(err, WS_ERROR_PROPERTY_ORIGINAL_ERROR_CODE, &got, sizeof got) == S_OK);
  CHECK(got == 0);
  REQUIRE(WsResetError(err) == S_OK);
  ULONG wide_langid = 0x0407;
  CHECK(WsSetErrorProperty(err, WS_ERROR_PROPERTY_LANGID, &wide_langid, sizeof wide_langid) == E_INVALIDARG);
}

TEST_CASE_FIXTURE(fd_guard, "add_error_string_copies_the_text") {
  error_object err;
  std::u16string source = u"original text";
  REQUIRE(add(err, source) == S_OK);
  std::fill(source.begin(), source.end(), u'X');
  CHECK(string_at(err, 0) == "original text");
}

TEST_CASE_FIXTURE(fd_guard, "add_error_string_counts_each_string") {
  error_object err;
  CHECK(string_count(err) == 0);
  REQUIRE(add(err, u"one") == S_OK);
  CHECK(string_count(err) == 1);
  REQUIRE(add(err, u"two") == S_OK);
  CHECK(string_count(err) == 2);
}

TEST_CASE_FIXTURE(fd_guard, "add_error_string_text_need_not_be_nul_terminated") {
  error_object err;
  std::u16string buffer = u"abcdef";
  WS_STRING s{3, buffer.data()};  // "abc", followed by more characters, no NUL
  REQUIRE(WsAddErrorString(err, &s) == S_OK);
  CHECK(string_at(err, 0) == "abc");
}

TEST_CASE_FIXTURE(fd_guard, "get_error_string_index_zero_is_most_recent") {
  error_object err;
  REQUIRE(add(err, u"oldest") == S_OK);
  REQUIRE(add(err, u"middle") == S_OK);
  REQUIRE(add(err, u"newest") == S_OK);
  CHECK(string_at(err, 0) == "newest");
  CHECK(string_at(err, 1) == "middle");
  CHECK(string_at(err, 2) == "oldest");
}

TEST_CASE_FIXTURE(fd_guard, "get_error_string_index_past_count_returns_invalidarg") {
  error_object err;
  WS_STRING s{77, reinterpret_cast<WCHAR*>(0x1)};
  CHECK(WsGetErrorString(err, 0, &s) == E_INVALIDARG);
  REQUIRE(add(err, u"only") == S_OK);
  CHECK(WsGetErrorString(err, 1, &s) == E_INVALIDARG);
  CHECK(WsGetErrorString(err, 0xFFFFFFFF, &s) == E_INVALIDARG);
  CHECK(s.length == 77);
  CHECK(s.chars == reinterpret_cast<WCHAR*>(0x1));
}

TEST_CASE_FIXTURE(fd_guard, "error_functions_null_arguments_return_invalidarg") {
  error_object err;
  std::u16string text = u"x";
  WS_STRING s = ws(text);
  ULONG value = 0;
  CHECK(WsAddErrorString(nullptr, &s) == E_INVALIDARG);
  CHECK(WsAddErrorString(err, nullptr) == E_INVALIDARG);
  CHECK(WsGetErrorString(nullptr, 0, &s) == E_INVALIDARG);
  REQUIRE(add(err, u"present") == S_OK);
  CHECK(WsGetErrorString(err, 0, nullptr) == E_INVALIDARG);
  CHECK(WsGetErrorProperty(nullptr, WS_ERROR_PROPERTY_STRING_COUNT, &value, sizeof value) == E_INVALIDARG);
  CHECK(WsGetErrorProperty(err, WS_ERROR_PROPERTY_STRING_COUNT, nullptr, sizeof value) == E_INVALIDARG);
  CHECK(WsSetErrorProperty(nullptr, WS_ERROR_PROPERTY_ORIGINAL_ERROR_CODE, &value, sizeof value) == E_INVALIDARG);
  CHECK(WsSetErrorProperty(err, WS_ERROR_PROPERTY_ORIGINAL_ERROR_CODE, nullptr, sizeof value) == E_INVALIDARG);
  CHECK(WsResetError(nullptr) == E_INVALIDARG);
  CHECK(string_count(err) == 1);
}

TEST_CASE_FIXTURE(fd_guard, "reset_error_clears_strings_and_original_error_code") {
  error_object err;
  REQUIRE(add(err, u"one") == S_OK);
  REQUIRE(add(err, u"two") == S_OK);
  ULONG code = 0x80072740;
  REQUIRE(WsSetErrorProperty(err, WS_ERROR_PROPERTY_ORIGINAL_ERROR_CODE, &code, sizeof code) == S_OK);
  REQUIRE(string_count(err) == 3);
  CHECK(WsResetError(err) == S_OK);
  CHECK(string_count(err) == 0);
  ULONG got = 1;
  CHECK(WsGetErrorProperty(err, WS_ERROR_PROPERTY_ORIGINAL_ERROR_CODE, &got, sizeof got) == S_OK);
  CHECK(got == 0);
  WS_STRING s{};
  CHECK(WsGetErrorString(err, 0, &s) == E_INVALIDARG);
  // The object is usable again after the reset.
  REQUIRE(add(err, u"again") == S_OK);
  CHECK(string_at(err, 0) == "again");
}

TEST_CASE_FIXTURE(fd_guard, "reset_error_keeps_langid_given_at_creation") {
  LANGID wanted = 0x0407;
  WS_ERROR_PROPERTY prop{WS_ERROR_PROPERTY_LANGID, &wanted, sizeof wanted};
  WS_ERROR* e = nullptr;
  REQUIRE(WsCreateError(&prop, 1, &e) == S_OK);
  REQUIRE(WsResetError(e) == S_OK);  // back to the just-created state
  LANGID got = 0;
  CHECK(WsGetErrorProperty(e, WS_ERROR_PROPERTY_LANGID, &got, sizeof got) == S_OK);
  CHECK(got == 0x0407);
  WsFreeError(e);
}

TEST_CASE_FIXTURE(fd_guard, "reset_error_releases_langid_set_after_a_reset") {
  // WsResetError returns the object to its just-created state, releasing properties
  // set with WsSetErrorProperty: a LANGID set after an earlier reset goes too.
  error_object err;
  LANGID created = 0;
  REQUIRE(WsGetErrorProperty(err, WS_ERROR_PROPERTY_LANGID, &created, sizeof created) == S_OK);
  REQUIRE(WsResetError(err) == S_OK);
  LANGID other = created == 0x040C ? 0x0407 : 0x040C;
  REQUIRE(WsSetErrorProperty(err, WS_ERROR_PROPERTY_LANGID, &other, sizeof other) == S_OK);
  REQUIRE(WsResetError(err) == S_OK);
  LANGID got = 0;
  CHECK(WsGetErrorProperty(err, WS_ERROR_PROPERTY_LANGID, &got, sizeof got) == S_OK);
  CHECK(got == created);
}

TEST_CASE_FIXTURE(fd_guard, "get_error_string_text_stays_valid_until_reset") {
  // The WsGetErrorString page: the returned string stays valid until WsResetError or
  // WsFreeError, so adding more strings must not move the text of earlier ones. If it
  // does, reading the old text touches freed memory; the check runs in a child
  // process so that a sanitizer's abort fails this test instead of the whole run.
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    WS_ERROR* e = nullptr;
    if (WsCreateError(nullptr, 0, &e) != S_OK) ::_exit(90);
    std::vector<std::u16string> expected;
    std::vector<WS_STRING> returned;
    for (int i = 0; i < 6; ++i) {
      std::u16string text(static_cast<std::size_t>(1 + i), static_cast<char16_t>(u'a' + i));
      WS_STRING in = ws(text);
      WS_STRING out{};
      if (WsAddErrorString(e, &in) != S_OK || WsGetErrorString(e, 0, &out) != S_OK) ::_exit(90);
      expected.push_back(text);
      returned.push_back(out);
    }
    for (int i = 0; i < 200; ++i) {
      std::u16string filler(static_cast<std::size_t>(1 + i % 40), u'Z');
      WS_STRING in = ws(filler);
      if (WsAddErrorString(e, &in) != S_OK) ::_exit(90);
    }
    int moved = 0;
    for (std::size_t i = 0; i < expected.size(); ++i)
      if (str(returned[i]) != narrow(expected[i])) ++moved;
    WsFreeError(e);
    ::_exit(moved ? 100 + moved : 0);  // 100 + the number of strings whose text changed
  }
  int status = 0;
  bool exited = wait_until([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, std::chrono::seconds(10));
  if (!exited) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
  }
  REQUIRE(exited);
  CHECK_MESSAGE(WIFEXITED(status), "the child died of signal ", WTERMSIG(status), " reading returned strings");
  if (WIFEXITED(status)) {
    REQUIRE(WEXITSTATUS(status) != 90);
    int code = WEXITSTATUS(status);
    int changed = code - 100;
    if (code > 100)
      MESSAGE(changed, " of 6 strings returned by WsGetErrorString changed after more strings were added");
    else if (code != 0)
      MESSAGE("the child failed with exit code ", code, " (a sanitizer's report, e.g. heap-use-after-free)");
    CHECK(code == 0);
  }
}

TEST_CASE_FIXTURE(fd_guard, "free_error_null_is_harmless") {
  WsFreeError(nullptr);  // passes by not crashing
}

TEST_CASE_FIXTURE(fd_guard, "free_error_releases_object_with_strings") {
  WS_ERROR* e = nullptr;
  REQUIRE(WsCreateError(nullptr, 0, &e) == S_OK);
  for (int i = 0; i < 100; ++i) REQUIRE(add(e, u"some text to release") == S_OK);
  ULONG code = 0x80072740;
  REQUIRE(WsSetErrorProperty(e, WS_ERROR_PROPERTY_ORIGINAL_ERROR_CODE, &code, sizeof code) == S_OK);
  WsFreeError(e);  // LeakSanitizer, in CI, checks that it all went
}

TEST_CASE_FIXTURE(fd_guard, "open_listener_port_in_use_adds_string_naming_url_and_in_use") {
  USHORT raw_port = 0;
  int raw = loopback_socket(&raw_port, 4);
  REQUIRE(raw >= 0);
  std::string url = "net.tcp://127.0.0.1:" + std::to_string(raw_port) + "/";

  WS_LISTENER* l = nullptr;
  REQUIRE(WsCreateListener(WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_TCP_CHANNEL_BINDING, nullptr, 0, nullptr, &l,
                           nullptr) == S_OK);
  error_object err;
  auto text = u16(url);
  WS_STRING s = ws(text);
  CHECK(WsOpenListener(l, &s, nullptr, err) == WS_E_ADDRESS_IN_USE);
  CHECK(err.count() >= 1);
  std::string all = err.text();
  CAPTURE(all);
  CHECK(all.find(url) != std::string::npos);
  CHECK(lower(all).find("in use") != std::string::npos);
  // An environmental failure mapped to a canonical code keeps the original code (spec 2.3).
  ULONG original = 0;
  CHECK(WsGetErrorProperty(err, WS_ERROR_PROPERTY_ORIGINAL_ERROR_CODE, &original, sizeof original) == S_OK);
  CHECK(original != 0);
  WsFreeListener(l);
  ::close(raw);
}

TEST_CASE_FIXTURE(fd_guard, "accept_channel_on_created_listener_adds_string") {
  WS_LISTENER* l = nullptr;
  REQUIRE(WsCreateListener(WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_TCP_CHANNEL_BINDING, nullptr, 0, nullptr, &l,
                           nullptr) == S_OK);
  WS_CHANNEL* c = channel_for(l);
  error_object err;
  CHECK(WsAcceptChannel(l, c, nullptr, err) == WS_E_INVALID_OPERATION);
  CHECK(err.count() >= 1);
  CHECK(!err.text().empty());
  WsFreeChannel(c);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "successful_calls_leave_error_unchanged") {
  error_object err;
  REQUIRE(add(err, u"marker") == S_OK);
  WS_LISTENER* l = nullptr;
  REQUIRE(WsCreateListener(WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_TCP_CHANNEL_BINDING, nullptr, 0, nullptr, &l, err) ==
          S_OK);
  auto text = u16("net.tcp://127.0.0.1:0/");
  WS_STRING s = ws(text);
  REQUIRE(WsOpenListener(l, &s, nullptr, err) == S_OK);
  WS_LISTENER_STATE state{};
  REQUIRE(WsGetListenerProperty(l, WS_LISTENER_PROPERTY_STATE, &state, sizeof state, err) == S_OK);
  WS_CHANNEL* c = nullptr;
  REQUIRE(WsCreateChannelForListener(l, nullptr, 0, &c, err) == S_OK);
  REQUIRE(WsCloseListener(l, nullptr, err) == S_OK);
  REQUIRE(WsResetListener(l, err) == S_OK);
  CHECK(string_count(err) == 1);
  CHECK(string_at(err, 0) == "marker");
  ULONG original = 1;
  CHECK(WsGetErrorProperty(err, WS_ERROR_PROPERTY_ORIGINAL_ERROR_CODE, &original, sizeof original) == S_OK);
  CHECK(original == 0);
  WsFreeChannel(c);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "failing_calls_accumulate_strings_most_recent_first") {
  error_object err;
  WS_LISTENER* l = nullptr;
  REQUIRE(WsCreateListener(WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_TCP_CHANNEL_BINDING, nullptr, 0, nullptr, &l,
                           nullptr) == S_OK);
  WS_CHANNEL* c = channel_for(l);
  CHECK(WsAcceptChannel(l, c, nullptr, err) == WS_E_INVALID_OPERATION);
  ULONG after_first = string_count(err);
  REQUIRE(after_first >= 1);
  std::string first = string_at(err, 0);
  WS_LISTENER_STATE state{};
  CHECK(WsSetListenerProperty(l, WS_LISTENER_PROPERTY_STATE, &state, sizeof state, err) == E_INVALIDARG);
  ULONG after_second = string_count(err);
  CHECK(after_second > after_first);
  // The first failure's text is still there, behind the newer one(s).
  CHECK(string_at(err, after_second - after_first) == first);
  WsFreeChannel(c);
  WsFreeListener(l);
}

TEST_CASE_FIXTURE(fd_guard, "failing_call_with_null_error_still_returns_its_code") {
  WS_LISTENER* l = nullptr;
  REQUIRE(WsCreateListener(WS_CHANNEL_TYPE_DUPLEX_SESSION, WS_TCP_CHANNEL_BINDING, nullptr, 0, nullptr, &l,
                           nullptr) == S_OK);
  WS_CHANNEL* c = channel_for(l);
  CHECK(WsAcceptChannel(l, c, nullptr, nullptr) == WS_E_INVALID_OPERATION);
  WsFreeChannel(c);
  WsFreeListener(l);
}

}  // TEST_SUITE("error")
