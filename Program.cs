using Ott.Sync;
using Ott.Sync.Auth;
using Ott.Sync.Connections;
using Ott.Sync.Endpoints;
using Ott.Sync.Protocol;
using Ott.Sync.Storage;

var builder = WebApplication.CreateSlimBuilder(args);
builder.AddOttStorage();
builder.AddOttCluster();
builder.AddOttRooms();
builder.AddOttConnections();
builder.AddOttJson();
builder.AddOttAuth();

var app = builder.Build();
app.UseWebSockets();
app.UseMiddleware<RoomSocketMiddleware>();
app.UseOttWatchPage();
app.MapStatusEndpoints();
app.MapAuthEndpoints();
app.MapUserEndpoints();
app.MapRoomEndpoints();
app.MapWatchPageEndpoints();
app.Run();
