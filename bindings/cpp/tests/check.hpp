// The tiny check harness shared by the C++ test programs: CHECK(cond) counts a pass or prints
// the failing expression and line; summary() prints "<passed> passed, <failed> failed" (the
// line the test runner reads) and gives the exit status.
#pragma once

#include <iostream>

namespace check
{
  inline int passed = 0;
  inline int failed = 0;

  inline void record(bool ok, const char *expr, int line)
  {
    if (ok)
    {
      ++passed;
      return;
    }
    ++failed;
    std::cout << "FAIL line " << line << ": " << expr << "\n";
  }

  inline int summary()
  {
    std::cout << passed << " passed, " << failed << " failed\n";
    return failed == 0 ? 0 : 1;
  }
} // namespace check

#define CHECK(cond) ::check::record(static_cast<bool>(cond), #cond, __LINE__)
