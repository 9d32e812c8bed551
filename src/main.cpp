#include <cstdio>

int main()
{
    std::puts("procsup " PROCSUP_VERSION);
    return 0;
}
