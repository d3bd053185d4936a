using Ott.Sync.Auth;
using Ott.Sync.Endpoints;
using Ott.Sync.Protocol;

var builder = WebApplication.CreateSlimBuilder(args);
builder.AddOttJson();
builder.AddOttAuthRedisStopgap();
builder.AddOttAuth();
var app = builder.Build();
app.MapGet("/api/status", () => "ok");
app.MapAuthEndpoints();
app.MapUserEndpoints();
app.Run();
